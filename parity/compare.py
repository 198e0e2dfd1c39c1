"""What "answers alike" means: status, parsed JSON (or a page's normalised DOM), the headers
that matter, the rows (or whatever state a suite reads) left behind."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from parity.dom import dom_difference

# Headers a client can tell apart; the rest (Date, Server, ...) may differ freely.
COMPARED_HEADERS = (
    "content-type",
    "location",
    "allow",
    "retry-after",
    "www-authenticate",
    # What a file answer tells a client about caching, ranges and the name to save as.
    "cache-control",
    "accept-ranges",
    "content-range",
    "content-disposition",
    # What a browser may do with the answer: sniff it, frame it, tell other sites of it.
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
    "referrer-policy",
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    set_cookies: tuple[str, ...]
    body: bytes
    # What the request left behind, by table (or any key a suite's state reader uses);
    # compared like JSON under "rows.<key>".
    rows: Mapping[str, Any]


def first_difference(
    flask: Answer, fastapi: Answer, volatile: tuple[str, ...], headers: tuple[str, ...] = ()
) -> str | None:
    """The first way the answers differ, or None. `headers`: compared beyond
    COMPARED_HEADERS (lower case), for a scenario whose sides must agree on them too."""
    if flask.status != fastapi.status:
        return f"status: flask {flask.status}, fastapi {fastapi.status}"
    for name in (*COMPARED_HEADERS, *headers):
        a, b = flask.headers.get(name), fastapi.headers.get(name)
        if _normal_header(name, a) != _normal_header(name, b):
            return f"header {name}: flask {a!r}, fastapi {b!r}"
    # A page: HTML with a body (Flask's empty answers, a 204, say text/html too).
    pages = _is_html(flask) and _is_html(fastapi) and bool(flask.body or fastapi.body)
    if pages and _vary(flask) != _vary(fastapi):
        # What a cache may hand to whom: a page's answer depends on the session cookie.
        a, b = flask.headers.get("vary"), fastapi.headers.get("vary")
        return f"header vary: flask {a!r}, fastapi {b!r}"
    cookies_a, cookies_b = _cookies(flask.set_cookies), _cookies(fastapi.set_cookies)
    if cookies_a != cookies_b:
        return f"cookies: flask {cookies_a}, fastapi {cookies_b}"
    if _is_image(flask) and _is_image(fastapi):
        image_a, image_b = _image(flask.body), _image(fastapi.body)
        if image_a != image_b:
            return f"body image: flask {_brief_image(image_a)}, fastapi {_brief_image(image_b)}"
        diff = None
    elif pages:
        diff = dom_difference(flask.body, fastapi.body)
    else:
        diff = _json_diff(_json(flask.body), _json(fastapi.body), "", volatile)
    if diff is not None:
        return f"body {diff}"
    for table in sorted(set(flask.rows) | set(fastapi.rows)):
        a_rows, b_rows = flask.rows.get(table), fastapi.rows.get(table)
        # Rows are compared like JSON, so "rows.users.*.password_hash" can be volatile.
        diff = _json_diff(a_rows, b_rows, f"rows.{table}", volatile)
        if diff is not None:
            return f"{diff} (flask {_brief(a_rows)}, fastapi {_brief(b_rows)})"
    return None


def _normal_header(name: str, value: str | None) -> str | None:
    if value is None or name != "content-type":
        return value
    # "application/json" and "application/json; charset=utf-8" say the same for JSON.
    return value.split(";", 1)[0].strip().lower()


def _is_html(answer: Answer) -> bool:
    return _normal_header("content-type", answer.headers.get("content-type")) == "text/html"


def _vary(answer: Answer) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in answer.headers.get("vary", "").split(",") if v)


def _is_image(answer: Answer) -> bool:
    return answer.headers.get("content-type", "").lower().startswith("image/")


def _image(body: bytes) -> tuple[str | None, tuple[int, int]] | bytes:
    """An image as its format and pixel size: two encoders (or two runs of one) need not
    write the same bytes for the same picture. Bytes that Pillow cannot read (a range of
    a file, say) are compared as bytes."""
    try:
        # Pillow is the demo's (its `demo` extra), not the parity tool's: without it,
        # images are compared as bytes.
        from PIL import Image
    except ImportError:
        return body
    try:
        with Image.open(io.BytesIO(body)) as image:
            return image.format, image.size
    except (OSError, ValueError, SyntaxError, EOFError):
        return body


def _brief_image(found: tuple[str | None, tuple[int, int]] | bytes) -> str:
    if isinstance(found, bytes):
        return f"{len(found)} unreadable bytes"
    fmt, (width, height) = found
    return f"{fmt} {width}x{height}"


def _cookies(headers: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Cookie names with their attributes; values are signed or random and may differ."""
    found: dict[str, tuple[str, ...]] = {}
    for header in headers:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            attrs = tuple(sorted(k for k, v in morsel.items() if v and k != "expires"))
            cleared = "clear" if morsel.value == "" else "set"
            found[name] = (cleared, *attrs)
    return found


def _json(body: bytes) -> Any:
    import json

    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


def _json_diff(a: Any, b: Any, where: str, volatile: tuple[str, ...]) -> str | None:
    if _is_volatile(where, volatile):
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            path = f"{where}.{key}" if where else key
            if key not in a or key not in b:
                if not _is_volatile(path, volatile):
                    return f"{path}: only on {'fastapi' if key not in a else 'flask'}"
                continue
            diff = _json_diff(a[key], b[key], path, volatile)
            if diff is not None:
                return diff
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where or '(root)'}: {len(a)} items on flask, {len(b)} on fastapi"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff = _json_diff(x, y, f"{where}.{i}" if where else str(i), volatile)
            if diff is not None:
                return diff
        return None
    if a != b:
        return f"{where or '(root)'}: flask {a!r}, fastapi {b!r}"
    return None


def _is_volatile(path: str, volatile: tuple[str, ...]) -> bool:
    parts = path.split(".")
    for pattern in volatile:
        want = pattern.split(".")
        if len(want) == len(parts) and all(w in ("*", p) for w, p in zip(want, parts, strict=True)):
            return True
    return False


def _brief(rows: Any) -> str:
    text = repr(rows)
    return text if len(text) < 200 else text[:197] + "..."
