"""Framework errors come out in the legacy shape: never HTML, never a stack trace."""

from __future__ import annotations

from tests.conftest import assert_error


def test_unknown_path_is_legacy_404(client):
    assert_error(client.get("/api/nope"), 404, "NOT_FOUND")


def test_wrong_method_is_legacy_405_with_allow(client):
    response = client.delete("/auth/check")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_413(client, settings):
    big = b"x" * (settings.max_upload_bytes + 128 * 1024)
    assert_error(
        client.post("/auth/login", data=big, content_type="application/json"), 413, "TOO_LARGE"
    )


def test_int_converter_rejects_non_integers_with_404(client, login):
    login("admin")
    assert_error(client.get("/api/users/abc/role"), 404, "NOT_FOUND")
