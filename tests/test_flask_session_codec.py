"""The codec's tagged JSON and cookies against Flask's own: every tag both ways, the same
bytes where Flask's output is deterministic, settings read from a Flask app's config."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import itsdangerous.timed
import pytest
from flask import Flask, flash, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup

from shared.auth.session_cookie import (
    CookieSettings,
    SessionCookieCodec,
    TaggedJSON,
    http_date,
    parse_http_date,
)
from shared.config import Settings

AWARE = datetime(2026, 11, 27, 20, 15, 7, tzinfo=UTC)
SAMPLES: dict[str, Any] = {
    "tuple": (1, "a", None),
    "nested tuple": [(1, (2, 3)), [4, (5,)]],
    "bytes": b"\x00\xffbinary\n",
    "empty bytes": b"",
    "markup": Markup("<b>bold</b> &amp;"),
    "uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "datetime": AWARE,
    "naive datetime": datetime(2020, 2, 29, 23, 59, 59),
    "other zone": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
    "microseconds": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "tag-like key": {" t": [1, 2]},
    "tag-like key 2": {" di": {" b": "x"}},
    "every tag key": [{k: 1} for k in (" t", " b", " m", " u", " d", " di")],
    "not a tag": {" x": 1},
    "two keys": {" t": 1, " b": 2},
    "list": [1, 2.5, "three", True, None, {"a": [1]}],
    "flashes": [("message", "Welcome back"), ("error", Markup("<i>x</i>"))],
    "unicode": "héllo wörld ☃ 🎉",
    "nested dict": {"z": {"y": {"x": (b"1",)}}, "a": 1},
    "date": date(2026, 3, 4),
    "decimal": Decimal("1.10"),
    "empty": {},
}


def _session_data(value: Any) -> dict[str, Any]:
    return {"value": value, "_permanent": True, "user_id": 42, "b": 1, "a": 2}


@pytest.fixture
def flask_serializer() -> TaggedJSONSerializer:
    return TaggedJSONSerializer()


@pytest.mark.parametrize("name", SAMPLES)
def test_dumps_matches_flask_byte_for_byte(name: str, flask_serializer: TaggedJSONSerializer):
    data = _session_data(SAMPLES[name])
    # Outside an app context Flask uses json.dumps as is: insertion order, ASCII.
    assert TaggedJSON(sort_keys=False).dumps(data) == flask_serializer.dumps(data)
    # Inside one (where sessions are saved), the app's JSON provider: sorted by default.
    for sort_keys, ensure_ascii in [(True, True), (False, True), (True, False), (False, False)]:
        app = Flask("foreign")
        app.json.sort_keys = sort_keys  # type: ignore[attr-defined]
        app.json.ensure_ascii = ensure_ascii  # type: ignore[attr-defined]
        with app.app_context():
            expected = flask_serializer.dumps(data)
        codec = TaggedJSON(sort_keys=sort_keys, ensure_ascii=ensure_ascii)
        assert codec.dumps(data) == expected, (sort_keys, ensure_ascii)


@pytest.mark.parametrize("name", SAMPLES)
def test_codec_dumps_flask_loads(name: str, flask_serializer: TaggedJSONSerializer):
    data = _session_data(SAMPLES[name])
    ours = TaggedJSON().dumps(data)
    theirs = flask_serializer.dumps(data)
    loaded = flask_serializer.loads(ours)
    assert loaded == flask_serializer.loads(theirs)
    assert _types(loaded) == _types(flask_serializer.loads(theirs))


@pytest.mark.parametrize("name", SAMPLES)
def test_flask_dumps_codec_loads(name: str, flask_serializer: TaggedJSONSerializer):
    data = _session_data(SAMPLES[name])
    expected = flask_serializer.loads(flask_serializer.dumps(data))
    loaded = TaggedJSON().loads(flask_serializer.dumps(data))
    assert loaded == expected
    assert _types(loaded) == _types(expected)


def _types(value: Any) -> Any:
    """The value's shape with every type spelled out (== alone takes (1,) for [1]...)."""
    if isinstance(value, dict):
        return ("dict", {k: _types(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_types(v) for v in value])
    if isinstance(value, datetime):
        return ("datetime", value.utcoffset())
    return type(value).__name__


def test_round_trips_keep_types():
    for name, value in SAMPLES.items():
        codec = TaggedJSON()
        back = codec.loads(codec.dumps({"v": value}))["v"]
        if name in ("date", "decimal"):
            continue  # Flask writes them as plain strings, and reads strings back
        if isinstance(value, datetime):
            expected = value.replace(microsecond=0)
            expected = expected if expected.tzinfo else expected.replace(tzinfo=UTC)
            assert back == expected and back.tzinfo is not None, name
            continue
        assert back == value and type(back) is type(value), name


def test_plain_values_untouched_and_garbage_dates_none():
    assert TaggedJSON().loads('{" d":"not a date"}') is None
    assert parse_http_date("Fri, 27 Nov 2026 20:15:07 -0000") == AWARE
    assert http_date(date(2026, 11, 27)) == "Fri, 27 Nov 2026 00:00:00 GMT"


class _NotJSON:
    pass


def test_unknown_types_fail_as_in_flask(flask_serializer: TaggedJSONSerializer):
    with pytest.raises(TypeError):
        flask_serializer.dumps({"x": _NotJSON()})
    with pytest.raises(TypeError):
        TaggedJSON().dumps({"x": _NotJSON()})


@dataclass
class _Point:
    x: int
    y: tuple[int, int]


def test_dataclasses_as_flask_writes_them(flask_serializer: TaggedJSONSerializer):
    data = {"p": _Point(1, (2, 3))}
    assert TaggedJSON(sort_keys=False).dumps(data) == flask_serializer.dumps(data)


# -- Whole cookies ------------------------------------------------------------------------


def foreign_app(**config: Any) -> Flask:
    app = Flask("foreign")
    app.config.update(
        {
            "SECRET_KEY": "a-foreign-secret-that-figway-never-saw",
            "SESSION_COOKIE_NAME": "shop_session",
            "PERMANENT_SESSION_LIFETIME": timedelta(hours=3),
            **config,
        }
    )
    return app


def _signer(app: Flask) -> Any:
    """Flask's own signing serializer for the app's session (inside an app context)."""
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    return interface.get_signing_serializer(app)


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        itsdangerous.timed.TimestampSigner, "get_timestamp", lambda _: 1_800_000_000
    )


@pytest.mark.usefixtures("frozen_time")
@pytest.mark.parametrize("name", SAMPLES)
def test_cookies_are_flasks_byte_for_byte(name: str):
    app = foreign_app()
    data = _session_data(SAMPLES[name])
    with app.app_context():
        theirs = _signer(app).dumps(data)
    codec = SessionCookieCodec.from_flask_app(app)
    assert codec.dumps(data) == theirs
    with app.app_context():
        assert _signer(app).loads(theirs) == codec.loads(theirs)


def test_fallback_keys_read_and_current_key_writes():
    old = foreign_app()
    old_cookie = SessionCookieCodec.from_flask_app(old).dumps({"user_id": 1})
    rotated = foreign_app()
    rotated.config.update(
        SECRET_KEY="the-new-key-0123456789", SECRET_KEY_FALLBACKS=[old.secret_key]
    )
    codec = SessionCookieCodec.from_flask_app(rotated)
    assert codec.loads(old_cookie) == {"user_id": 1}
    fresh = codec.dumps({"user_id": 2})
    assert SessionCookieCodec.from_flask_app(old).loads(fresh) == {}
    with rotated.test_request_context(headers={"Cookie": f"shop_session={old_cookie}"}):
        assert dict(session) == {"user_id": 1}
    with rotated.app_context():
        assert _signer(rotated).loads(fresh) == {"user_id": 2}


def test_lifetime_from_the_flask_config(monkeypatch: pytest.MonkeyPatch):
    app = foreign_app()
    codec = SessionCookieCodec.from_flask_app(app)
    assert codec.max_age == 3 * 3600
    cookie = codec.dumps({"user_id": 1})
    now = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(
        itsdangerous.timed.TimestampSigner,
        "get_timestamp",
        lambda self: now(self) + 3 * 3600 + 5,
    )
    assert codec.loads(cookie) == {}
    with app.test_request_context(headers={"Cookie": f"shop_session={cookie}"}):
        assert dict(session) == {}


def _set_cookie_of_flask(app: Flask, data: dict[str, Any]) -> str:
    @app.post("/set")
    def set_session() -> str:
        session.update(data)
        return ""

    response = app.test_client().post("/set")
    (header,) = response.headers.getlist("Set-Cookie")
    return header


def _without_expiry(header: str) -> tuple[list[str], datetime | None]:
    parts = header.split("; ")
    expires = [p for p in parts if p.startswith("Expires=")]
    rest = [p for p in parts if not p.startswith("Expires=")]
    rest[0] = rest[0].split("=", 1)[0]  # the value is signed at a different second
    return rest, parse_http_date(expires[0][8:]) if expires else None


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"SESSION_COOKIE_SAMESITE": "Lax", "SESSION_COOKIE_SECURE": True},
        {
            "SESSION_COOKIE_DOMAIN": ".shop.example:8000",
            "SESSION_COOKIE_PATH": "/shop",
            "SESSION_COOKIE_HTTPONLY": False,
            "SESSION_COOKIE_SAMESITE": "strict",
        },
        {"APPLICATION_ROOT": "/app", "SESSION_COOKIE_PARTITIONED": True},
    ],
)
@pytest.mark.parametrize("permanent", [True, False])
def test_set_cookie_headers_as_flask_sends_them(config: dict[str, Any], permanent: bool):
    app = foreign_app(**config)
    data = {"user_id": 7, "_permanent": True} if permanent else {"user_id": 7}
    theirs, their_expiry = _without_expiry(_set_cookie_of_flask(app, data))
    ours, our_expiry = _without_expiry(SessionCookieCodec.from_flask_app(app).set_cookie(data))
    assert ours == theirs
    if permanent:
        assert their_expiry is not None and our_expiry is not None
        assert abs(our_expiry - their_expiry) <= timedelta(seconds=2)
    else:
        assert their_expiry is None and our_expiry is None


@pytest.mark.parametrize(
    "config", [{}, {"SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_DOMAIN": "shop.example"}]
)
def test_clear_cookie_as_flask_sends_it(config: dict[str, Any]):
    app = foreign_app(**config)
    cookie = SessionCookieCodec.from_flask_app(app).dumps({"user_id": 7})

    @app.post("/logout")
    def logout() -> str:
        session.clear()
        return ""

    client = app.test_client()
    client.set_cookie("shop_session", cookie)
    (header,) = client.post("/logout").headers.getlist("Set-Cookie")
    assert SessionCookieCodec.from_flask_app(app).clear_cookie() == header


def test_a_flash_set_by_flask_reads_back():
    app = foreign_app()

    @app.post("/flash")
    def do_flash() -> str:
        session["user_id"] = 42
        flash("Saved!")
        flash(Markup("<b>Careful</b>"), "warning")
        return ""

    client = app.test_client()
    client.post("/flash")
    cookie = client.get_cookie("shop_session")
    assert cookie is not None
    data = SessionCookieCodec.from_flask_app(app).loads(cookie.value)
    assert data == {
        "user_id": 42,
        "_flashes": [("message", "Saved!"), ("warning", Markup("<b>Careful</b>"))],
    }
    assert type(data["_flashes"][1][1]) is Markup


def test_no_secret_key_no_codec():
    with pytest.raises(ValueError, match="SECRET_KEY"):
        SessionCookieCodec.from_flask_app(Flask("keyless"))


# -- The demo -----------------------------------------------------------------------------


def test_the_demo_app_gives_the_settings_codec(tmp_path: Path):
    from legacy_flask import create_app

    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        secret_key="test-secret-key-0123456789",
        secret_key_fallbacks=["an-older-key-0123456789"],
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        log_file=tmp_path / "figway.log",
    )
    app = create_app(settings)
    try:
        from_app = CookieSettings.from_flask_app(app)
        from_settings = CookieSettings.from_settings(settings)
        assert from_app.name == from_settings.name == "session"
        assert from_app.lifetime_s == from_settings.lifetime_s == 14 * 24 * 3600
        ignore = {"digest_method"}  # Flask's is a lazy wrapper around hashlib.sha1
        for field in CookieSettings.__dataclass_fields__:
            if field not in ignore:
                assert getattr(from_app, field) == getattr(from_settings, field), field
        ours, theirs = SessionCookieCodec(settings), SessionCookieCodec.from_flask_app(app)
        data = {"_permanent": True, "sid": "token", "x": (1, b"2")}
        assert ours.loads(theirs.dumps(data)) == data == theirs.loads(ours.dumps(data))
        assert ours.clear_cookie() == theirs.clear_cookie()
        assert _without_expiry(ours.set_cookie(data)) == _without_expiry(theirs.set_cookie(data))
    finally:
        app.extensions["figway"].close()


def test_the_codec_imports_neither_flask_nor_werkzeug():
    import subprocess

    code = (
        "import sys, shared.auth.session_cookie, gateway.flask_session; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class _ShopSessions(SecureCookieSessionInterface):
    salt = "shop-cookie"

    def get_cookie_name(self, app: Flask) -> str:
        return "shop_" + super().get_cookie_name(app)


def test_a_session_interface_subclass_counts():
    app = foreign_app(SESSION_COOKIE_NAME="sess")
    app.session_interface = _ShopSessions()
    codec = SessionCookieCodec.from_flask_app(app)
    assert codec.name == "shop_sess"
    with app.app_context():
        theirs = _signer(app).dumps({"user_id": 3})
    assert codec.loads(theirs) == {"user_id": 3}
    assert SessionCookieCodec.from_flask_app(foreign_app()).loads(theirs) == {}


def test_custom_tags_are_reported(caplog: pytest.LogCaptureFixture):
    from flask.json.tag import JSONTag

    class TagSet(JSONTag):
        key = " s"

        def check(self, value: Any) -> bool:
            return isinstance(value, set)

        def to_json(self, value: Any) -> Any:
            return sorted(value)

        def to_python(self, value: Any) -> Any:
            return set(value)

    app = foreign_app()
    interface = SecureCookieSessionInterface()
    interface.serializer = TaggedJSONSerializer()
    interface.serializer.register(TagSet)
    app.session_interface = interface
    with caplog.at_level("WARNING", logger="figway.session"):
        SessionCookieCodec.from_flask_app(app)
    assert "' s'" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="figway.session"):
        SessionCookieCodec.from_flask_app(foreign_app())
    assert caplog.text == ""
