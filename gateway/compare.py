"""What "answers alike" means, and every way two answers differ: status, the headers that
matter, the cookies set (by name and attributes), the body as parsed JSON, a page's
normalised DOM (gateway/dom.py) or an image's format and size.

Written once for two users: the parity tool (parity/compare.py), which reports the first
difference of a scenario's two answers, and shadow traffic (gateway/shadow.py), which needs
them all, each under a stable field name (`status`, `header location`, `$.items[0].id`),
for its noise filter. Stdlib only (Pillow if installed, for images): a serving process
imports it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from gateway import dom

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

# What part of the answers differs.
STATUS, HEADER, COOKIES, IMAGE, PAGE, BODY, ROWS = (
    "status",
    "header",
    "cookies",
    "image",
    "page",
    "body",
    "rows",
)
# How: both have it and unlike (VALUES), only the first or only the second has it, or two
# lists of another length (LENGTHS; a and b are the lengths).
VALUES, ONLY_A, ONLY_B = dom.VALUES, dom.ONLY_A, dom.ONLY_B
LENGTHS = "lengths"

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as compared: headers by lower-case name, Set-Cookie headers apart."""

    status: int
    headers: dict[str, str]
    set_cookies: tuple[str, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # STATUS, HEADER, COOKIES, IMAGE, PAGE, BODY (JSON or text) or ROWS
    # HEADER: (name,); PAGE: (the node's DOM path,); BODY and ROWS: JSON keys and indices.
    path: Path = ()
    a: str = ""  # the first answer's value, as text (repr for JSON and headers)
    b: str = ""
    how: str = VALUES

    @property
    def field(self) -> str:
        """A stable name for what differs: `status`, `header location`, `cookies`, `image`,
        `page /html[1]/body[1]/p[2]`, or a JSON path such as `$.items[0].updated_at`."""
        if self.kind == HEADER:
            return f"header {self.path[0]}"
        if self.kind == PAGE:
            return f"page {self.path[0]}"
        if self.kind in (BODY, ROWS):
            return json_path(self.path)
        return self.kind

    def describe(self, a: str = "flask", b: str = "fastapi") -> str:
        """In words, the sides named `a` and `b`: "body items.0.id: flask 1, fastapi 2"."""
        if self.kind == HEADER:
            label = f"header {self.path[0]}"
        elif self.kind == PAGE:
            label = f"body {self.path[0]}"
        elif self.kind == BODY:
            label = f"body {dotted(self.path) or '(root)'}"
        elif self.kind == ROWS:
            label = dotted(self.path)
        elif self.kind == IMAGE:
            label = "body image"
        else:
            label = self.kind
        if self.how == ONLY_A or self.how == ONLY_B:
            return f"{label}: only on {a if self.how == ONLY_A else b}"
        if self.how == LENGTHS:
            return f"{label}: {self.a} items on {a}, {self.b} on {b}"
        return f"{label}: {a} {self.a}, {b} {self.b}"


def dotted(path: Path) -> str:
    """The parity tool's name of a JSON path, the one its volatile patterns match: a.1.b"""
    return ".".join(str(p) for p in path)


def json_path(path: Path) -> str:
    """A JSON path as JSONPath writes it: $.items[0].updated_at, $['odd key']"""
    parts = ["$"]
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p.isidentifier():
            parts.append(f".{p}")
        else:
            parts.append(f"[{json.dumps(p)}]")
    return "".join(parts)


def differences(
    a: Answer, b: Answer, volatile: tuple[str, ...] = (), headers: tuple[str, ...] = ()
) -> Iterator[Difference]:
    """Every way `a` and `b` differ, status first, then headers, cookies and the body.
    `volatile`: dotted JSON paths (`*` for any one key or index) never compared;
    `headers`: compared beyond COMPARED_HEADERS (lower case)."""
    if a.status != b.status:
        yield Difference(STATUS, (), str(a.status), str(b.status))
    for name in (*COMPARED_HEADERS, *headers):
        x, y = a.headers.get(name), b.headers.get(name)
        if _normal_header(name, x) != _normal_header(name, y):
            yield Difference(HEADER, (name,), repr(x), repr(y))
    # A page: HTML with a body (Flask's empty answers, a 204, say text/html too).
    pages = _is_html(a) and _is_html(b) and bool(a.body or b.body)
    if pages and _vary(a) != _vary(b):
        # What a cache may hand to whom: a page's answer depends on the session cookie.
        yield Difference(
            HEADER, ("vary",), repr(a.headers.get("vary")), repr(b.headers.get("vary"))
        )
    cookies_a, cookies_b = _cookies(a.set_cookies), _cookies(b.set_cookies)
    if cookies_a != cookies_b:
        yield Difference(COOKIES, (), str(cookies_a), str(cookies_b))
    if _is_image(a) and _is_image(b):
        image_a, image_b = _image(a.body), _image(b.body)
        if image_a != image_b:
            yield Difference(IMAGE, (), _brief_image(image_a), _brief_image(image_b))
    elif pages:
        for node in dom.dom_differences(a.body, b.body):
            yield Difference(PAGE, (node.path,), node.a, node.b, node.how)
    elif a.body != b.body:  # the same bytes are the same JSON: no parsing
        yield from json_differences(parse_json(a.body), parse_json(b.body), BODY, (), volatile)


def json_differences(
    a: Any, b: Any, kind: str, where: Path, volatile: tuple[str, ...]
) -> Iterator[Difference]:
    """Every leaf where two JSON values differ, depth first; keys in sorted order."""
    if _is_volatile(where, volatile):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            path = (*where, key)
            if key not in a or key not in b:
                if not _is_volatile(path, volatile):
                    yield Difference(kind, path, how=ONLY_B if key not in a else ONLY_A)
                continue
            yield from json_differences(a[key], b[key], kind, path, volatile)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield Difference(kind, where, str(len(a)), str(len(b)), LENGTHS)
        # The items both have are compared too: one item's field may be all that differs.
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from json_differences(x, y, kind, (*where, i), volatile)
    elif a != b:
        yield Difference(kind, where, repr(a), repr(b))


def parse_json(body: bytes) -> Any:
    """The body as JSON; None when empty, the bytes themselves when it is not JSON."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


def _is_volatile(path: Path, volatile: tuple[str, ...]) -> bool:
    if not volatile:
        return False
    parts = [str(p) for p in path]
    for pattern in volatile:
        want = pattern.split(".")
        if len(want) == len(parts) and all(w in ("*", p) for w, p in zip(want, parts, strict=True)):
            return True
    return False


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
        # Pillow is the demo's (its `demo` extra), not figway's: without it, images are
        # compared as bytes. Imported only when two images are compared.
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
        try:
            cookie.load(header)
        except CookieError:
            found[header] = ("unreadable",)
            continue
        for name, morsel in cookie.items():
            attrs = tuple(sorted(k for k, v in morsel.items() if v and k != "expires"))
            cleared = "clear" if morsel.value == "" else "set"
            found[name] = (cleared, *attrs)
    return found
