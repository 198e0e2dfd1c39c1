"""Flask's session cookie format, read and written without Flask.

The legacy app keeps its login in Flask's signed cookie session. The FastAPI side must
honour the same cookie (and set it, on login) while Flask may be absent, so this codec
rebuilds Flask's SecureCookieSessionInterface from itsdangerous alone: salt
"cookie-session", HMAC key derivation, SHA-1, fallback keys for rotation, and the payload
in Flask's tagged JSON (flask.json.tag.TaggedJSONSerializer: tuples, bytes, Markup, UUIDs,
datetimes and tag-like dicts survive the trip; a pending flash is a list of tuples).

Its settings come from one of two places:
- `SessionCookieCodec.from_flask_app(app)`: the Flask app's own config (SECRET_KEY,
  SECRET_KEY_FALLBACKS, SESSION_COOKIE_*, PERMANENT_SESSION_LIFETIME) and JSON provider
  (sort_keys, ensure_ascii), read by duck typing: nothing here imports Flask or Werkzeug.
  The gateway builds its codec this way when the legacy app is a Flask app.
- `SessionCookieCodec(settings)`: figway's Settings, the values the demo's Flask app is
  configured with (legacy_flask.create_app), for the FastAPI side running on its own.
"""

from __future__ import annotations

import base64
import dataclasses
import decimal
import email.utils
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.config import Settings

log = logging.getLogger("figway.session")

SALT = "cookie-session"
# The ASGI scope key under which the gateway hands the FastAPI side its legacy Flask app's
# codec (gateway.flask_session reads it).
SCOPE_KEY = "figway.flask_session"
_PATH_SAFE = "%!$&'()*+,/:=@"  # Werkzeug's dump_cookie: a URL path segment, no semicolon
# Flask's defaults (flask.app.Flask.default_config), for keys a config does not carry.
DEFAULT_LIFETIME_S = 31 * 24 * 3600

try:  # Flask's ' m' tag loads as markupsafe.Markup; without markupsafe, as a plain str.
    from markupsafe import Markup as _Markup
except ImportError:  # pragma: no cover - markupsafe comes with Jinja2 and Flask
    _Markup = str  # type: ignore[assignment,misc]


# -- Flask's tagged JSON (flask.json.tag), tag for tag ------------------------------------

TAG_DICT = " di"
TAG_TUPLE = " t"
TAG_BYTES = " b"
TAG_MARKUP = " m"
TAG_UUID = " u"
TAG_DATETIME = " d"
TAGS = frozenset({TAG_DICT, TAG_TUPLE, TAG_BYTES, TAG_MARKUP, TAG_UUID, TAG_DATETIME})


def http_date(value: datetime | date) -> str:
    """werkzeug.http.http_date: RFC 2822 in GMT; a naive datetime is taken as UTC, a date
    as midnight UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo != UTC:
        value = value.astimezone(UTC)
    return email.utils.format_datetime(value, usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    """werkzeug.http.parse_date: an aware datetime (UTC when the text has no zone), None
    for text that is no date."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def tag(value: Any) -> Any:
    """TaggedJSONSerializer.tag: the first matching tag in Flask's order (dict with a
    tag-like key, dict, tuple, list, bytes, __html__, UUID, datetime)."""
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in TAGS:
                return {TAG_DICT: {f"{key}__": tag(value[key])}}
        return {k: tag(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {TAG_TUPLE: [tag(item) for item in value]}
    if isinstance(value, list):
        return [tag(item) for item in value]
    if isinstance(value, bytes):
        return {TAG_BYTES: base64.b64encode(value).decode("ascii")}
    html = getattr(value, "__html__", None)
    if callable(html):
        return {TAG_MARKUP: str(html())}
    if isinstance(value, UUID):
        return {TAG_UUID: value.hex}
    if isinstance(value, datetime):
        return {TAG_DATETIME: http_date(value)}
    return value


def _untag(value: dict[str, Any]) -> Any:
    if len(value) != 1:
        return value
    key, inner = next(iter(value.items()))
    if key == TAG_DICT:
        inner_key = next(iter(inner))
        return {inner_key[:-2]: inner[inner_key]}
    if key == TAG_TUPLE:
        return tuple(inner)
    if key == TAG_BYTES:
        return base64.b64decode(inner)
    if key == TAG_MARKUP:
        return _Markup(inner)
    if key == TAG_UUID:
        return UUID(inner)
    if key == TAG_DATETIME:
        return parse_http_date(inner)
    return value


def untag(value: Any) -> Any:
    """TaggedJSONSerializer._untag_scan: children first, then the dict itself."""
    if isinstance(value, dict):
        return _untag({k: untag(v) for k, v in value.items()})
    if isinstance(value, list):
        return [untag(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    """flask.json.provider._default: what the JSON provider does with untagged leftovers."""
    if isinstance(value, date):
        return http_date(value)
    if isinstance(value, decimal.Decimal | UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class TaggedJSON:
    """flask.json.tag.TaggedJSONSerializer as Flask's session runs it: compact JSON, with
    the app's JSON provider's sort_keys and ensure_ascii (Flask: both True by default)."""

    def __init__(self, *, sort_keys: bool = True, ensure_ascii: bool = True) -> None:
        self.sort_keys = sort_keys
        self.ensure_ascii = ensure_ascii

    def dumps(self, value: Any) -> str:
        return json.dumps(
            tag(value),
            separators=(",", ":"),
            sort_keys=self.sort_keys,
            ensure_ascii=self.ensure_ascii,
            default=_json_default,
        )

    def loads(self, value: str | bytes) -> Any:
        return untag(json.loads(value))


# -- The cookie's settings ----------------------------------------------------------------


@dataclass(frozen=True)
class CookieSettings:
    """What SecureCookieSessionInterface reads from a Flask app's config."""

    secret_keys: tuple[str | bytes, ...]  # the current key first, then the fallbacks
    name: str = "session"
    lifetime_s: int = DEFAULT_LIFETIME_S
    domain: str | None = None
    path: str = "/"
    secure: bool = False
    httponly: bool = True
    samesite: str | None = None
    partitioned: bool = False
    refresh_each_request: bool = True
    sort_keys: bool = True
    ensure_ascii: bool = True
    salt: str = SALT
    key_derivation: str = "hmac"
    digest_method: Callable[..., Any] = hashlib.sha1

    @classmethod
    def from_settings(cls, settings: Settings) -> CookieSettings:
        """The demo's values: what legacy_flask.create_app puts in its Flask config."""
        return cls(
            secret_keys=tuple(settings.signing_keys),
            name=settings.session_cookie_name,
            lifetime_s=settings.session_lifetime_s,
            secure=settings.session_cookie_secure,
            httponly=True,
            samesite="Lax",
            sort_keys=False,
        )

    @classmethod
    def from_flask_app(cls, app: Any) -> CookieSettings:
        """A Flask app's session settings, read without importing Flask: its
        `session_interface`'s own getters (so a subclass's overrides count), which read
        `app.config` (SECRET_KEY, SECRET_KEY_FALLBACKS, SESSION_COOKIE_*,
        PERMANENT_SESSION_LIFETIME, SESSION_REFRESH_EACH_REQUEST), and its JSON provider's
        sort_keys and ensure_ascii. ValueError when the app has no SECRET_KEY (Flask then
        keeps no session) or keeps it elsewhere than in a signed cookie."""
        config: Mapping[str, Any] = app.config
        secret = getattr(app, "secret_key", None) or config.get("SECRET_KEY")
        if not secret:
            raise ValueError("the Flask app has no SECRET_KEY: it keeps no session")
        interface = getattr(app, "session_interface", None)
        if interface is None or not hasattr(interface, "get_signing_serializer"):
            raise ValueError("the Flask app does not keep its session in a signed cookie")
        tags = getattr(getattr(interface, "serializer", None), "tags", None)
        if tags is not None and set(tags) != TAGS:
            log.warning(
                "the Flask app's session serializer has tags %s: values under the others "
                "read as plain tagged dicts",
                sorted(set(tags) - TAGS),
            )

        def ask(getter: str, key: str, default: Any) -> Any:
            method = getattr(interface, getter, None)
            if callable(method):
                return method(app)
            return config.get(key, default)

        # Flask: itsdangerous gets [*fallbacks, key]; we keep the current key first.
        keys = (secret, *(config.get("SECRET_KEY_FALLBACKS") or ()))
        lifetime = getattr(app, "permanent_session_lifetime", None)
        if lifetime is None:
            lifetime = config.get("PERMANENT_SESSION_LIFETIME", DEFAULT_LIFETIME_S)
        if isinstance(lifetime, timedelta):
            lifetime = lifetime.total_seconds()
        path = ask("get_cookie_path", "SESSION_COOKIE_PATH", None)
        provider = getattr(app, "json", None)
        return cls(
            secret_keys=tuple(keys),
            name=ask("get_cookie_name", "SESSION_COOKIE_NAME", "session"),
            lifetime_s=int(lifetime),
            domain=ask("get_cookie_domain", "SESSION_COOKIE_DOMAIN", None) or None,
            path=path or config.get("APPLICATION_ROOT") or "/",
            secure=bool(ask("get_cookie_secure", "SESSION_COOKIE_SECURE", False)),
            httponly=bool(ask("get_cookie_httponly", "SESSION_COOKIE_HTTPONLY", True)),
            samesite=ask("get_cookie_samesite", "SESSION_COOKIE_SAMESITE", None),
            partitioned=bool(ask("get_cookie_partitioned", "SESSION_COOKIE_PARTITIONED", False)),
            refresh_each_request=bool(config.get("SESSION_REFRESH_EACH_REQUEST", True)),
            sort_keys=bool(getattr(provider, "sort_keys", True)),
            ensure_ascii=bool(getattr(provider, "ensure_ascii", True)),
            salt=getattr(interface, "salt", SALT),
            key_derivation=getattr(interface, "key_derivation", "hmac"),
            digest_method=getattr(interface, "digest_method", hashlib.sha1),
        )


# -- The codec ----------------------------------------------------------------------------


class SessionCookieCodec:
    """Reads and writes a Flask session cookie: `SessionCookieCodec(settings)` for figway's
    settings, `SessionCookieCodec.from_flask_app(app)` for any Flask app's config."""

    def __init__(self, source: Settings | CookieSettings) -> None:
        cfg = source if isinstance(source, CookieSettings) else CookieSettings.from_settings(source)
        self.config = cfg
        self.name = cfg.name
        self.max_age = cfg.lifetime_s
        self.secure = cfg.secure or cfg.partitioned  # Werkzeug: Partitioned implies Secure
        self.json = TaggedJSON(sort_keys=cfg.sort_keys, ensure_ascii=cfg.ensure_ascii)
        # itsdangerous signs with the last key and verifies with every one.
        keys: Any = list(reversed(cfg.secret_keys))  # it types str and bytes keys apart
        self._serializer = URLSafeTimedSerializer(
            keys,
            salt=cfg.salt,
            serializer=self.json,
            signer_kwargs={
                "key_derivation": cfg.key_derivation,
                "digest_method": cfg.digest_method,
            },
        )
        samesite = cfg.samesite.title() if cfg.samesite else None
        if samesite not in (None, "Strict", "Lax", "None"):
            raise ValueError("SameSite must be 'Strict', 'Lax', or 'None'.")
        # The attributes after Expires, in Werkzeug's order (dump_cookie).
        domain = None
        if cfg.domain:
            domain = cfg.domain.partition(":")[0].lstrip(".").encode("idna").decode("ascii")
        self._domain = f"Domain={domain}" if domain else None
        tail = ["Secure"] if self.secure else []
        if cfg.httponly:
            tail.append("HttpOnly")
        tail.append("Path=" + quote(cfg.path, safe=_PATH_SAFE))
        if samesite:
            tail.append(f"SameSite={samesite}")
        if cfg.partitioned:
            tail.append("Partitioned")
        self._tail = tail

    @classmethod
    def from_flask_app(cls, app: Any) -> SessionCookieCodec:
        """The codec for this Flask app's session (see CookieSettings.from_flask_app)."""
        return cls(CookieSettings.from_flask_app(app))

    def loads(self, cookie: str | None) -> dict[str, Any]:
        """The session's contents; empty for a missing, forged or expired cookie."""
        if not cookie:
            return {}
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except (BadSignature, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def dumps(self, data: Mapping[str, Any]) -> str:
        return self._serializer.dumps(dict(data))

    def set_cookie(self, data: Mapping[str, Any]) -> str:
        """A Set-Cookie value as Flask writes it: a permanent session (`_permanent`) expires
        after the lifetime (sliding), any other one with the browser."""
        parts = [f"{self.name}={self.dumps(data)}"]
        if self._domain:
            parts.append(self._domain)
        if data.get("_permanent"):
            expires = datetime.now(UTC) + timedelta(seconds=self.max_age)
            parts.append(f"Expires={http_date(expires)}")
        return "; ".join([*parts, *self._tail])

    def clear_cookie(self) -> str:
        """The Set-Cookie value Flask sends when a session is emptied (logout)."""
        parts = [f"{self.name}="]
        if self._domain:
            parts.append(self._domain)
        parts += ["Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Max-Age=0"]
        return "; ".join([*parts, *self._tail])


def codec_in_scope(scope: Mapping[str, Any]) -> SessionCookieCodec | None:
    """The Flask session codec for an ASGI request: the gateway's (SCOPE_KEY), else the
    app's `state.flask_session_codec` (a FastAPI app serving on its own)."""
    codec = scope.get(SCOPE_KEY)
    if codec is None:
        state = getattr(scope.get("app"), "state", None)
        codec = getattr(state, "flask_session_codec", None)
    return codec if isinstance(codec, SessionCookieCodec) else None
