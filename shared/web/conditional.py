"""What a file answer's status and headers are, given the file's stat and the request's
conditional headers: werkzeug's `send_file(path, conditional=True, etag=True)` as Flask
calls it (max_age None), decided natively so the FastAPI side needs no werkzeug.

Pure: the caller stats the file (off the event loop) and reads the body bytes
[start, stop). Every rule below is werkzeug 3.1's, kept even where it is odd, because
existing clients see Flask's answers: several ranges, a unit other than bytes or a suffix
longer than the file are a 416 (werkzeug serves one range only); `If-Match: *` is a 412;
an empty file ignores Range; a 412 still carries the whole file.
"""

from __future__ import annotations

import email.utils
import mimetypes
import posixpath
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

OCTET_STREAM = "application/octet-stream"
# werkzeug.utils.get_content_type: these get "; charset=utf-8" (Flask's response charset).
_CHARSET_MIMETYPES = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/sql",
        "application/xml",
        "application/xml-dtd",
        "application/xml-external-parsed-entity",
    }
)
# werkzeug.http._entity_headers less Expires and Content-Location: a 304 drops these.
_DROPPED_BY_304 = frozenset(
    {
        "allow",
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-range",
        "content-type",
        "last-modified",
    }
)
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
)
_PLAIN_INT = re.compile(r"-?[0-9]+", re.ASCII)
_ETAG = re.compile(
    r"""
    [ \t]*  # leading space
    ([Ww]/)?  # weak marker
    (?:"([^"]*)"|([^" \t,]+))  # quoted value, or an invalid unquoted one
    [ \t]*
    (?:,|\Z)
    """,
    flags=re.ASCII | re.VERBOSE,
)


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime: float  # st_mtime as os.stat gives it: the ETag spells it out with str()


@dataclass(frozen=True)
class Conditions:
    """The request headers the decision reads; None when absent (an empty value is present:
    werkzeug tells the two apart)."""

    range: str | None = None
    if_range: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_match: str | None = None


@dataclass(frozen=True)
class Decision:
    """The answer: 416 has no headers (each caller words its own error); otherwise the body
    is bytes [start, stop) of the file (none for a 304)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    start: int
    stop: int


def decide(
    path: str,
    stat: FileStat,
    conditions: Conditions,
    *,
    mimetype: str | None = None,
    now: float | None = None,
) -> Decision:
    """Flask's send_file answer for the file at `path` (absolute: the ETag hashes it).
    `mimetype` None guesses it from the name as Flask's static view does; `now` is the
    Date header's time (the current time by default)."""
    download_name = posixpath.basename(path)
    headers: list[tuple[str, str]] = []
    if mimetype is None:
        mimetype, encoding = mimetypes.guess_type(download_name)
        mimetype = mimetype or OCTET_STREAM
        if encoding is not None:
            headers.append(("Content-Encoding", encoding))
    headers += [
        ("Content-Disposition", content_disposition(download_name)),
        ("Content-Type", content_type(mimetype)),
        ("Content-Length", str(stat.size)),
        ("Last-Modified", http_date(stat.mtime)),
        ("Cache-Control", "no-cache"),
        ("ETag", f'"{file_etag(path, stat)}"'),
        ("Date", http_date(now)),
        ("Accept-Ranges", "bytes"),
    ]
    etag, last_modified = file_etag(path, stat), _last_modified(stat.mtime)
    status, start, stop = 200, 0, stat.size
    if (
        stat.size
        and conditions.range is not None
        and _if_range_holds(conditions, etag, last_modified)
    ):
        span = byte_range(conditions.range, stat.size)
        if span is None:
            return Decision(416, (), 0, 0)
        status, (start, stop) = 206, span
        headers = _replace(headers, "Content-Length", str(stop - start))
        headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{stat.size}"))
    elif not is_modified(conditions, etag, last_modified):
        status = 412 if _parse_etags(conditions.if_match).any() else 304
    if status == 304:
        headers = [(k, v) for k, v in headers if k.lower() not in _DROPPED_BY_304]
        start = stop = 0
    return Decision(status, tuple(headers), start, stop)


def _if_range_holds(conditions: Conditions, etag: str, last_modified: datetime) -> bool:
    """A Range is read without If-Range, or with one that still matches."""
    return conditions.if_range is None or not is_modified(
        conditions, etag, last_modified, ignore_if_range=False
    )


def file_etag(path: str, stat: FileStat) -> str:
    """werkzeug's file ETag (unquoted): mtime, size and an Adler-32 of the path."""
    return f"{stat.mtime}-{stat.size}-{zlib.adler32(path.encode()) & 0xFFFFFFFF}"


def content_type(mimetype: str) -> str:
    """werkzeug.utils.get_content_type with Flask's utf-8."""
    if mimetype.startswith("text/") or mimetype in _CHARSET_MIMETYPES or mimetype.endswith("+xml"):
        return f"{mimetype}; charset=utf-8"
    return mimetype


def content_disposition(name: str) -> str:
    """`inline` with the file's name, as send_file words it (RFC 5987 for non-ASCII)."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        quoted = quote(name, safe="!#$&+-.^_`|~")
        return f"inline; filename={_quote_header_value(simple)}; filename*=UTF-8''{quoted}"
    return f"inline; filename={_quote_header_value(name)}"


def http_date(timestamp: float | None = None) -> str:
    """werkzeug.http.http_date of a timestamp (now when None)."""
    return email.utils.formatdate(timestamp, usegmt=True)


def byte_range(value: str, length: int) -> tuple[int, int] | None:
    """The one satisfiable range [start, stop) a Range header asks of `length` bytes, or
    None (werkzeug's 416): parse_range_header, then Range.range_for_length."""
    parsed = _parse_range(value)
    if parsed is None:
        return None
    units, ranges = parsed
    if units != "bytes" or len(ranges) != 1:
        return None
    start, end = ranges[0]
    if end is None:
        end = length
        if start < 0:
            start += length
    if start >= end or not 0 <= start < length:
        return None
    return start, min(end, length)


def is_modified(
    conditions: Conditions,
    etag: str,
    last_modified: datetime,
    *,
    ignore_if_range: bool = True,
) -> bool:
    """werkzeug's is_resource_modified for an (unquoted, strong) ETag and a Last-Modified
    already cut to the second."""
    unmodified = False
    if_range_date: datetime | None = None
    if_range_etag: str | None = None
    if not ignore_if_range and conditions.range is not None and conditions.if_range:
        # werkzeug.http.parse_if_range_header: a date, else an ETag with its weakness dropped.
        if_range_date = parse_date(conditions.if_range)
        if if_range_date is None:
            if_range_etag = _unquote_etag(conditions.if_range)
    since = if_range_date if if_range_date is not None else parse_date(conditions.if_modified_since)
    if since and last_modified <= since:
        unmodified = True
    if if_range_etag is not None:
        return if_range_etag != etag
    none_match = _parse_etags(conditions.if_none_match)
    if none_match.any():
        # RFC 9110 13.1.2: If-None-Match compares weakly.
        unmodified = none_match.star or etag in none_match.strong or etag in none_match.weak
    if_match = _parse_etags(conditions.if_match)
    if if_match.any():
        # RFC 9110 13.1.1: If-Match compares strongly (werkzeug's `*` matches nothing here).
        unmodified = etag not in if_match.strong
    return not unmodified


def parse_date(value: str | None) -> datetime | None:
    """werkzeug.http.parse_date: an aware datetime (UTC when the text has no zone)."""
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _ETags:
    strong: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()
    star: bool = False

    def any(self) -> bool:
        return bool(self.star or self.strong or self.weak)


def _parse_etags(value: str | None) -> _ETags:
    """werkzeug.http.parse_etags: invalid parts are skipped up to the next comma."""
    if not value:
        return _ETags()
    if value == "*":
        return _ETags(star=True)
    strong: list[str] = []
    weak: list[str] = []
    pos = 0
    while True:
        match = _ETAG.match(value, pos)
        if match is None:
            pos = value.find(",", pos) + 1
            if pos == 0:
                break
            continue
        is_weak, quoted, unquoted = match.groups()
        pos = match.end()
        (weak if is_weak else strong).append(quoted if quoted is not None else unquoted)
    return _ETags(frozenset(strong), frozenset(weak))


def _unquote_etag(value: str) -> str:
    """werkzeug.http.unquote_etag's tag (its weakness dropped)."""
    start = 2 if value.startswith(("W/", "w/")) else 0
    if value.startswith('"', start) and value.endswith('"', start):
        return value[start + 1 : -1]
    return value[start:]


def _parse_range(value: str) -> tuple[str, list[tuple[int, int | None]]] | None:
    """werkzeug.http.parse_range_header: units and [start, end) pairs (end None: to the end;
    a negative start: a suffix), or None when malformed or out of order."""
    if not value or "=" not in value:
        return None
    ranges: list[tuple[int, int | None]] = []
    last_end: int | None = 0
    units, _, spec = value.partition("=")
    for item in spec.split(","):
        item = item.strip(" \t")
        if "-" not in item:
            return None
        end: int | None
        if item.startswith("-"):
            if last_end is None:
                return None
            begin = _plain_int(item)
            if begin is None or begin == 0:  # "-0" is no suffix length
                return None
            end, last_end = None, None
        else:
            begin_text, _, end_text = item.partition("-")
            begin = _plain_int(begin_text)
            if begin is None or last_end is None or begin < last_end:
                return None
            end = None
            if end_text.strip(" \t"):
                last = _plain_int(end_text)
                if last is None or begin >= last + 1:
                    return None
                end = last + 1
            last_end = end
        ranges.append((begin, end))
    return units.strip(" \t").lower(), ranges


def _plain_int(value: str) -> int | None:
    """werkzeug's _plain_int: ASCII digits and `-` only (no `+`, `_` or other digits)."""
    value = value.strip(" \t")
    return int(value) if _PLAIN_INT.fullmatch(value) else None


def _quote_header_value(value: str) -> str:
    if not value:
        return '""'
    if _TOKEN_CHARS.issuperset(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _last_modified(mtime: float) -> datetime:
    """Last-Modified as werkzeug compares it: the header's text read back, whole seconds."""
    parsed = parse_date(http_date(mtime))
    assert parsed is not None  # http_date's own text always parses
    return parsed


def _replace(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """The header set in place, as werkzeug's Headers.__setitem__ keeps its position."""
    return [(k, value if k == name else v) for k, v in headers]
