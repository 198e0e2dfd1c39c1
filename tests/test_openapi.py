"""/docs and /openapi.json describe every twin with its real request and response models."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from gateway.manifest import twin_key
from shared.config import Settings
from tests.test_contract import manifest_routes

# Routes whose body is not one model: free-form preferences, a login form or JSON.
FREE_BODIES = {"PUT /api/users/me/preferences"}
# Writes that take no body at all.
NO_BODY = {
    "POST /auth/logout",
    "DELETE /api/users/{user_id}",
    "DELETE /api/settings/{key}",
    "DELETE /api/artists/{artist_id}",
    "DELETE /api/videos/{video_id}",
    "DELETE /api/playlists/{playlist_id}",
    "DELETE /api/playlists/{playlist_id}/videos/{entry_id}",
    "POST /api/artists/{artist_id}/videos/discover",
    "POST /api/videos/{video_id}/download",
    "POST /api/downloads/{download_id}/cancel",
    "POST /api/videos/{video_id}/refresh-metadata",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    settings = Settings(_env_file=None, env="test", database_url="sqlite://", secret_key="k" * 32)
    with TestClient(create_fastapi_app(settings)) as client:
        assert client.get("/docs").status_code == 200
        response = client.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    contract = {twin_key(k) for k in manifest_routes()}
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            key = twin_key(f"{method.upper()} {path}")
            if key in contract:
                found[key] = operation
    return found


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    name = ref.removeprefix("#/components/schemas/")
    assert name in schema["components"]["schemas"], f"{ref} does not resolve"
    component: dict[str, Any] = schema["components"]["schemas"][name]
    return component


def test_every_twin_documents_its_answer_with_a_model(schema):
    operations = _operations(schema)
    assert len(operations) >= 20
    for key, operation in operations.items():
        success = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
        assert success, f"{key}: no success response"
        for code, response in success.items():
            content = response.get("content", {})
            if code == "304" or (content and "application/json" not in content):
                continue  # a file (video, image) or no body: there is no model to name
            ref = content["application/json"]["schema"].get("$ref")
            assert ref, f"{key} {code}: no model"
            assert _resolve(schema, ref)["properties"], f"{key} {code}: an empty model"
        errors = operation["responses"]
        if "401" in errors:
            assert errors["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorOut"
            )


def test_every_twin_that_reads_a_body_documents_its_model(schema):
    for key, operation in _operations(schema).items():
        method = key.split(" ", 1)[0]
        if method not in ("POST", "PUT") or key in NO_BODY:
            assert "requestBody" not in operation, f"{key}: documents a body it never reads"
            continue
        body = operation.get("requestBody")
        assert body, f"{key}: its body is undocumented"
        if "multipart/form-data" in body["content"]:  # an upload: the file field is named
            assert body["content"]["multipart/form-data"]["schema"]["properties"], key
            continue
        content = body["content"]["application/json"]["schema"]
        if key in FREE_BODIES:
            assert content == {"type": "object"}
            continue
        model = _resolve(schema, content["$ref"])
        assert model["properties"], key


def test_no_422_is_promised(schema):
    """Bad input answers the legacy 400 on the twins (shared/web/errors.py), never a 422."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], f"{method.upper()} {path}"
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_login_documents_its_form_redirect(schema):
    responses = _operations(schema)["POST /auth/login"]["responses"]
    assert "302" in responses and "423" in responses


# Every query argument each route reads (legacy_flask's request.args), by route: a twin
# must declare exactly these, so that /openapi.json documents them with their bounds.
QUERY_ARGS = {
    "GET /api/videos": {"status", "sort", "order", "artist_id", "limit", "offset"},
    "GET /api/videos/search": {"q", "limit", "offset"},
    "GET /api/artists": {"sort", "search", "monitored", "page", "per_page"},
    "GET /api/downloads": {"status"},
    "GET /api/admin/logs": {"lines"},
    "GET /api/metadata/search": {"q"},
    "GET /api/videos/{video_id}/stream": {"transcode"},
    "DELETE /api/videos/{video_id}": {"delete_file"},
    "POST /auth/login": {"next"},
    # Pages, rendered by Flask alone today.
    "GET /login": {"username", "next", "error"},
    "GET /artists": {"page"},
    "GET /videos": {"status", "limit", "offset"},
}
# Free text the legacy side takes at any length (safe_next keeps only a same-site path).
UNBOUNDED = {("POST /auth/login", "next")}
BLUEPRINTS = Path(__file__).parent.parent / "legacy_flask" / "blueprints"


def _legacy_views_reading_args() -> set[str]:
    """'METHOD /rule' of each legacy view that reads request.args, itself or in a helper of
    its module."""
    found = set()
    for source in BLUEPRINTS.glob("*.py"):
        tree = ast.parse(source.read_text())
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        helpers = {f.name for f in functions if "request.args" in ast.unparse(f)}
        for function in functions:
            calls = {
                n.func.id
                for n in ast.walk(function)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            if function.name not in helpers and not calls & helpers:
                continue
            for decorator in function.decorator_list:
                if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute):
                    rule = decorator.args[0]
                    assert isinstance(rule, ast.Constant) and isinstance(rule.value, str)
                    found.add(twin_key(f"{decorator.func.attr.upper()} {rule.value}"))
    return found


def test_every_route_reading_arguments_is_in_the_table():
    assert _legacy_views_reading_args() <= set(QUERY_ARGS)


def test_every_twin_documents_each_query_argument_with_its_bounds(schema):
    operations = _operations(schema)
    for key, operation in operations.items():
        parameters = operation.get("parameters", [])
        documented = {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}
        assert set(documented) == QUERY_ARGS.get(key, set()), key
        if documented:
            assert "400" in operation["responses"], f"{key}: its refusals are undocumented"
        for name, declared in documented.items():
            if (key, name) in UNBOUNDED:
                continue
            for option in declared.get("anyOf", [declared]):
                bounded = (
                    {"minimum", "maximum"} <= set(option)
                    or {"enum", "maxLength"} & set(option)
                    or option.get("type") in ("boolean", "null")
                )
                assert bounded, f"{key}: ?{name} is declared without bounds: {declared}"


def test_path_ids_are_documented_as_integers(schema):
    for key, operation in _operations(schema).items():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                assert parameter["schema"]["type"] == "integer", (key, parameter["name"])


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_nothing_from_elsewhere(page):
    settings = Settings(_env_file=None, env="test", database_url="sqlite://", secret_key="k" * 32)
    with TestClient(create_fastapi_app(settings)) as client:
        assert_served_offline(client, page)


def assert_served_offline(client: Any, page: str) -> None:
    """Every file the page loads is served by the app itself, with a type the browser runs
    (nosniff refuses a script served as anything else)."""
    html = client.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href|spec-url|url:)\s*=?\s*["']([^"']+)["']""", html.text)
    assert "/openapi.json" in urls and len(urls) >= 3, urls
    assert not re.search(r"https?://|//[a-z]", html.text), "a URL elsewhere"
    expected = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for url in urls:
        assert url.startswith("/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        kind = next((t for ext, t in expected.items() if url.endswith(ext)), "application/json")
        assert response.headers["content-type"].startswith(kind), url
        assert response.headers["x-content-type-options"] == "nosniff"
