"""The codec reads the cookies Flask writes, and Flask reads the ones the codec writes."""

from __future__ import annotations

from shared.auth.session_cookie import SessionCookieCodec
from shared.services.auth import caller_for_session_token
from tests.conftest import PASSWORD


def test_codec_reads_a_flask_login_cookie(app, client, make_user, settings, db_session):
    user = make_user("user")
    client.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    cookie = client.get_cookie(settings.session_cookie_name)
    data = SessionCookieCodec(settings).loads(cookie.value)
    assert data["_permanent"] is True
    found = caller_for_session_token(db_session, data["sid"])
    assert found is not None and found.id == user.id


def test_flask_reads_a_codec_cookie(app, client, make_user, settings, db_session):
    from shared.services.auth import open_session

    user = make_user("readonly")
    token = open_session(db_session, settings, user)
    db_session.commit()
    cookie = SessionCookieCodec(settings).dumps({"_permanent": True, "sid": token})
    client.set_cookie(settings.session_cookie_name, cookie)
    assert client.get("/api/auth/me").get_json()["id"] == user.id


def test_forged_and_garbage_cookies_read_as_empty(settings):
    from pydantic import SecretStr

    codec = SessionCookieCodec(settings)
    other_key = settings.model_copy(update={"secret_key": SecretStr("another-key-0123456789ab")})
    forged = SessionCookieCodec(other_key).dumps({"sid": "x"})
    assert codec.loads(forged) == {}
    assert codec.loads("garbage") == {}
    assert codec.loads(None) == {}
    good = codec.dumps({"sid": "x"})
    assert codec.loads(good) == {"sid": "x"}
    assert codec.loads(good[:-2] + ("AA" if not good.endswith("AA") else "BB")) == {}


def test_rotation_reads_old_key_and_writes_new(settings):
    from pydantic import SecretStr

    old = SessionCookieCodec(settings).dumps({"sid": "abc"})
    rotated = settings.model_copy(
        update={
            "secret_key": SecretStr("a-brand-new-key-0123456789"),
            "secret_key_fallbacks": [settings.secret_key],
        }
    )
    codec = SessionCookieCodec(rotated)
    assert codec.loads(old) == {"sid": "abc"}
    fresh = codec.dumps({"sid": "def"})
    assert SessionCookieCodec(settings).loads(fresh) == {}
