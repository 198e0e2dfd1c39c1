"""Settings on the legacy app: masked lists, one key, set, delete, bulk in one transaction."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Setting
from shared.serializers import MASK
from shared.services.settings import MAX_BULK_KEYS
from tests.conftest import assert_error
from tests.test_users import LONE_SURROGATES

BAD_KEYS = ["x" * 129, "has%20space", "a%0A", "semi;colon", "caf%C3%A9", "a$"]


@pytest.fixture
def stored_settings(db_session):
    """Arrange rows directly, and read back what the database holds."""

    def add(**values):
        for key, value in values.items():
            db_session.add(Setting(key=key, value=value, description=f"about {key}"))
        db_session.commit()

    return add


def snapshot(db_session: Session) -> dict[str, tuple[Any, str | None]]:
    db_session.expire_all()
    rows = db_session.scalars(select(Setting).order_by(Setting.key)).all()
    return {s.key: (s.value, s.description) for s in rows}


# -- GET /api/settings ------------------------------------------------------------------


def test_list_is_ordered_and_masks_secrets(client, bearer, stored_settings):
    stored_settings(theme="dark", imvdb_api_key="s3cret", smtp_password=None, max_jobs=4)
    response = client.get("/api/settings", headers=bearer("admin"))
    assert response.status_code == 200
    assert response.get_json() == {
        "settings": [
            {"key": "imvdb_api_key", "value": MASK, "description": "about imvdb_api_key"},
            {"key": "max_jobs", "value": 4, "description": "about max_jobs"},
            {"key": "smtp_password", "value": None, "description": "about smtp_password"},
            {"key": "theme", "value": "dark", "description": "about theme"},
        ]
    }


def test_list_needs_admin(client, bearer):
    assert_error(client.get("/api/settings"), 401, "AUTH_REQUIRED")
    assert_error(client.get("/api/settings", headers=bearer("manager")), 403, "FORBIDDEN")


# -- GET /api/settings/<key> ------------------------------------------------------------


def test_get_one_masks_secrets_below_admin(client, bearer, stored_settings):
    stored_settings(theme="dark", webhook_token="tok-123")
    manager, admin = bearer("manager"), bearer("admin")
    assert client.get("/api/settings/theme", headers=manager).get_json() == {
        "key": "theme",
        "value": "dark",
        "description": "about theme",
    }
    assert client.get("/api/settings/webhook_token", headers=manager).get_json()["value"] == MASK
    assert client.get("/api/settings/webhook_token", headers=admin).get_json()["value"] == "tok-123"


def test_get_one_needs_manager(client, bearer, stored_settings):
    stored_settings(theme="dark")
    assert_error(client.get("/api/settings/theme"), 401, "AUTH_REQUIRED")
    assert_error(client.get("/api/settings/theme", headers=bearer("user")), 403, "FORBIDDEN")


def test_get_one_unknown_and_invalid_keys(client, bearer):
    headers = bearer("manager")
    assert_error(client.get("/api/settings/nope", headers=headers), 404, "NOT_FOUND")
    for key in BAD_KEYS:
        assert_error(client.get(f"/api/settings/{key}", headers=headers), 400, "VALIDATION_ERROR")


def test_get_reaches_a_key_named_bulk(client, bearer, stored_settings):
    # Only PUT has a static /api/settings/bulk rule; GET still reads the key "bulk".
    headers = bearer("admin")
    assert_error(client.get("/api/settings/bulk", headers=headers), 404, "NOT_FOUND")
    stored_settings(bulk=1)
    assert client.get("/api/settings/bulk", headers=headers).get_json()["value"] == 1


# -- PUT /api/settings/<key> ------------------------------------------------------------


def test_put_creates_then_updates(client, bearer, db_session):
    headers = bearer("admin")
    created = client.put(
        "/api/settings/imvdb_api_key",
        json={"value": "abc", "description": "provider key"},
        headers=headers,
    )
    assert created.status_code == 201
    # The admin who set it sees it: only lists mask.
    assert created.get_json() == {
        "key": "imvdb_api_key",
        "value": "abc",
        "description": "provider key",
    }
    updated = client.put("/api/settings/imvdb_api_key", json={"value": "def"}, headers=headers)
    assert updated.status_code == 200
    assert updated.get_json() == {
        "key": "imvdb_api_key",
        "value": "def",
        "description": "provider key",
    }
    cleared = client.put(
        "/api/settings/imvdb_api_key", json={"value": None, "description": None}, headers=headers
    )
    assert cleared.status_code == 200
    assert snapshot(db_session) == {"imvdb_api_key": (None, None)}


@pytest.mark.parametrize(
    "value",
    [
        0,
        -7,
        2**62,
        1.25,
        True,
        False,
        "",
        "text ✓",
        [1, "a", None],
        {"nested": {"deep": [1, 2]}},
    ],
)
def test_put_round_trips_any_json(client, bearer, value):
    headers = bearer("admin")
    assert (
        client.put("/api/settings/some.key-1", json={"value": value}, headers=headers).status_code
        == 201
    )
    got = client.get("/api/settings/some.key-1", headers=headers).get_json()["value"]
    assert got == value and type(got) is type(value)


def test_put_refuses_lone_surrogates(client, bearer, stored_settings, db_session):
    stored_settings(theme="dark")
    headers = bearer("admin")
    for raw in LONE_SURROGATES:
        body = raw.replace(b'"theme"', b'"value"').replace(b'{"a"', b'{"value"')
        response = client.put(
            "/api/settings/theme", data=body, content_type="application/json", headers=headers
        )
        assert_error(response, 400, "BAD_REQUEST")
    assert snapshot(db_session) == {"theme": ("dark", "about theme")}
    assert client.get("/api/settings/theme", headers=headers).status_code == 200


def test_put_needs_admin(client, bearer, db_session):
    assert_error(client.put("/api/settings/theme", json={"value": 1}), 401, "AUTH_REQUIRED")
    assert_error(
        client.put("/api/settings/theme", json={"value": 1}, headers=bearer("manager")),
        403,
        "FORBIDDEN",
    )
    assert snapshot(db_session) == {}


def test_put_rejections_write_nothing(client, bearer, stored_settings, db_session):
    stored_settings(theme="dark")
    headers = bearer("admin")
    for payload in (
        {},
        {"description": "no value"},
        {"value": 1, "description": 5},
        {"value": 1, "description": "x" * 2001},
        [1],
        "dark",
    ):
        assert_error(
            client.put("/api/settings/theme", json=payload, headers=headers),
            400,
            "VALIDATION_ERROR",
        )
    for raw in ("{", "", '{"value": NaN}', '{"value": -Infinity}'):
        assert_error(
            client.put(
                "/api/settings/theme", data=raw, content_type="application/json", headers=headers
            ),
            400,
            "BAD_REQUEST",
        )
    for key in BAD_KEYS:
        assert_error(
            client.put(f"/api/settings/{key}", json={"value": 1}, headers=headers),
            400,
            "VALIDATION_ERROR",
        )
    assert snapshot(db_session) == {"theme": ("dark", "about theme")}


# -- DELETE /api/settings/<key> ---------------------------------------------------------


def test_delete(client, bearer, stored_settings, db_session):
    stored_settings(theme="dark", keep="me")
    response = client.delete("/api/settings/theme", headers=bearer("admin"))
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert snapshot(db_session) == {"keep": ("me", "about keep")}


def test_delete_rejections(client, bearer, stored_settings, db_session):
    stored_settings(theme="dark")
    assert_error(client.delete("/api/settings/theme"), 401, "AUTH_REQUIRED")
    assert_error(client.delete("/api/settings/theme", headers=bearer("manager")), 403, "FORBIDDEN")
    headers = bearer("admin")
    assert_error(client.delete("/api/settings/nope", headers=headers), 404, "NOT_FOUND")
    assert_error(
        client.delete(f"/api/settings/{'x' * 129}", headers=headers), 400, "VALIDATION_ERROR"
    )
    assert snapshot(db_session) == {"theme": ("dark", "about theme")}


# -- PUT /api/settings/bulk -------------------------------------------------------------


def test_bulk_creates_and_updates(client, bearer, stored_settings, db_session):
    stored_settings(theme="dark", untouched=1)
    response = client.put(
        "/api/settings/bulk",
        headers=bearer("admin"),
        json={"settings": {"theme": "light", "smtp_password": "pw", "max_jobs": 3}},
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "success": True,
        "updated": 3,
        "settings": [
            {"key": "max_jobs", "value": 3, "description": None},
            {"key": "smtp_password", "value": MASK, "description": None},
            {"key": "theme", "value": "light", "description": "about theme"},
        ],
    }
    assert snapshot(db_session) == {
        "max_jobs": (3, None),
        "smtp_password": ("pw", None),
        "theme": ("light", "about theme"),
        "untouched": (1, "about untouched"),
    }


def test_bulk_is_never_the_key_bulk(client, bearer, db_session):
    headers = bearer("admin")
    # The shape of a single-key PUT is refused by the bulk route and writes no "bulk" key.
    assert_error(
        client.put("/api/settings/bulk", json={"value": 1}, headers=headers),
        400,
        "VALIDATION_ERROR",
    )
    response = client.put("/api/settings/bulk", json={"settings": {"a": 1}}, headers=headers)
    assert response.status_code == 200 and response.get_json()["updated"] == 1
    assert snapshot(db_session) == {"a": (1, None)}


def test_bulk_with_one_bad_key_writes_nothing(client, bearer, stored_settings, db_session):
    stored_settings(theme="dark")
    headers = bearer("admin")
    before = snapshot(db_session)
    for bad in ("has space", "x" * 129, "", "a\n", "slash/key"):
        payload = {"settings": {"theme": "light", "new_one": 1, bad: 2}}
        assert_error(
            client.put("/api/settings/bulk", json=payload, headers=headers), 400, "VALIDATION_ERROR"
        )
    assert snapshot(db_session) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"settings": {}},
        {"settings": {f"k{i}": i for i in range(MAX_BULK_KEYS + 1)}},
        {"settings": [["a", 1]]},
        {"settings": "a=1"},
        {},
        [{"a": 1}],
    ],
)
def test_bulk_rejects_bad_shapes(client, bearer, stored_settings, db_session, payload):
    stored_settings(theme="dark")
    before = snapshot(db_session)
    assert_error(
        client.put("/api/settings/bulk", json=payload, headers=bearer("admin")),
        400,
        "VALIDATION_ERROR",
    )
    assert snapshot(db_session) == before


def test_bulk_rejects_malformed_json(client, bearer, db_session):
    headers = bearer("admin")
    for raw in ("{", '{"settings": {"a": NaN}}'):
        assert_error(
            client.put(
                "/api/settings/bulk", data=raw, content_type="application/json", headers=headers
            ),
            400,
            "BAD_REQUEST",
        )
    assert snapshot(db_session) == {}


def test_bulk_at_the_limit(client, bearer, db_session):
    payload = {"settings": {f"k{i:03}": i for i in range(MAX_BULK_KEYS)}}
    response = client.put("/api/settings/bulk", json=payload, headers=bearer("admin"))
    assert response.status_code == 200 and response.get_json()["updated"] == MAX_BULK_KEYS
    assert len(snapshot(db_session)) == MAX_BULK_KEYS


def test_bulk_needs_admin(client, bearer, db_session):
    payload = {"settings": {"a": 1}}
    assert_error(client.put("/api/settings/bulk", json=payload), 401, "AUTH_REQUIRED")
    assert_error(
        client.put("/api/settings/bulk", json=payload, headers=bearer("manager")), 403, "FORBIDDEN"
    )
    assert snapshot(db_session) == {}
