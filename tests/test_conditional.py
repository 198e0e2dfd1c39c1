"""shared.web.conditional and shared.web.options_header against werkzeug itself: the FastAPI
side decides natively what Flask's send_file and parse_options_header decide, so each case
here is asked of both and the answers must be equal, header for header and byte for byte."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_options_header as werkzeug_options
from werkzeug.utils import send_file as werkzeug_send_file

from shared.web.conditional import Conditions, FileStat, decide, file_etag, http_date
from shared.web.options_header import parse_options_header

# An mtime with a fraction: the ETag spells st_mtime out in full.
MTIME_NS = 1_700_000_000_123_456_789
LAST_MODIFIED = http_date(MTIME_NS / 1e9)
PAST, FUTURE = "Tue, 14 Nov 2023 22:13:19 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"
RANGES = [
    None,
    "",
    "bytes=0-9",
    "bytes=0-0",
    "bytes=5-",
    "bytes=-5",
    "bytes=-0",
    "bytes=-200",
    "bytes=99-",
    "bytes=100-",
    "bytes=0-99999",
    "bytes=0-9,20-29",  # several ranges: werkzeug serves one only
    "bytes=-5,0-3",
    "bytes=10-5",
    "items=0-5",
    " Bytes = 1-2 ",
    "bytes=+1-2",
    "bytes=a-b",
    "bytes=5",
    "bytes=\u0663-5",
    "bytes",
]
CONDITION_HEADERS = ("if_range", "if_none_match", "if_modified_since", "if_match")


def _values(etag: str) -> dict[str, list[str | None]]:
    """Per header, the values to try: absent, empty, matching, weak, other, malformed."""
    return {
        "if_range": [None, "", etag, f"W/{etag}", '"other"', PAST, LAST_MODIFIED, FUTURE, "x"],
        "if_none_match": [None, "", "*", etag, f"W/{etag}", f'"x", {etag}', '"x"', "a b, ,"],
        "if_modified_since": [None, "", PAST, LAST_MODIFIED, FUTURE, "soon", "1 Jan 2100"],
        "if_match": [None, "", "*", etag, f"W/{etag}", '"x"', " *"],
    }


def _cases(etag: str) -> Iterator[Conditions]:
    values = _values(etag)
    for rng, if_range in itertools.product(RANGES, values["if_range"]):
        yield Conditions(range=rng, if_range=if_range)
    others = [values[name] for name in ("if_none_match", "if_modified_since", "if_match")]
    for none_match, since, match in itertools.product(*others):
        yield Conditions(if_none_match=none_match, if_modified_since=since, if_match=match)
    pick = random.Random(15)
    for _ in range(1500):
        fields = {name: pick.choice(values[name]) for name in CONDITION_HEADERS}
        yield Conditions(range=pick.choice(RANGES), **fields)


def _environ(conditions: Conditions, method: str = "GET") -> dict[str, str]:
    environ = {"REQUEST_METHOD": method, "wsgi.url_scheme": "http"}
    for name in ("range", *CONDITION_HEADERS):
        value = getattr(conditions, name)
        if value is not None:
            environ[f"HTTP_{name.upper()}"] = value
    return environ


Answer = tuple[int, tuple[tuple[str, str], ...], bytes]


def _werkzeug(path: Path, conditions: Conditions, mimetype: str | None) -> Answer:
    """werkzeug's (status, headers, body) with Date blanked, or 416."""
    environ = _environ(conditions)
    try:
        response = werkzeug_send_file(path, environ, mimetype=mimetype, etag=True)
    except RequestedRangeNotSatisfiable:
        return 416, (), b""
    try:
        headers = response.get_wsgi_headers(environ).to_wsgi_list()
        chunks = response.iter_encoded()
        body = b"".join(chunks) if response.status_code != 304 else b""
    finally:
        response.close()
    return response.status_code, tuple(_blank_date(headers)), body


def _ours(path: Path, conditions: Conditions, mimetype: str | None) -> Answer:
    found = os.stat(path)
    stat = FileStat(size=found.st_size, mtime=found.st_mtime)
    decision = decide(os.path.abspath(path), stat, conditions, mimetype=mimetype)
    body = path.read_bytes()[decision.start : decision.stop]
    return decision.status, tuple(_blank_date(decision.headers)), body


def _blank_date(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, "<now>" if k == "Date" else v) for k, v in headers]


def _file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    return path


@pytest.mark.parametrize("mimetype", ["image/jpeg", "video/mp4"])
def test_every_condition_is_decided_as_werkzeug_decides(tmp_path, mimetype):
    path = _file(tmp_path, "clip.bin", bytes(range(100)))
    stat = os.stat(path)
    etag = f'"{file_etag(str(path), FileStat(stat.st_size, stat.st_mtime))}"'
    statuses = set()
    for conditions in _cases(etag):
        expected = _werkzeug(path, conditions, mimetype)
        assert _ours(path, conditions, mimetype) == expected, conditions
        statuses.add(expected[0])
    # The cases reach every answer werkzeug gives.
    assert statuses == {200, 206, 304, 412, 416}


def test_an_empty_file_ignores_range(tmp_path):
    path = _file(tmp_path, "empty.jpg", b"")
    for rng in RANGES:
        conditions = Conditions(range=rng)
        assert _ours(path, conditions, "image/jpeg") == _werkzeug(path, conditions, "image/jpeg")


@pytest.mark.parametrize(
    "name",
    [
        "app.css",
        "app.js",
        "logo.svg",
        "data.json",
        "notes.txt",
        "archive.tar.gz",  # an encoding guessed too: Content-Encoding
        "no-extension",
        "caf\u00e9 menu.css",  # RFC 5987 filename*
        'quote"d.css',
        "semi;colon.xml",
    ],
)
def test_types_and_names_are_werkzeugs(tmp_path, name):
    path = _file(tmp_path, name, b"body {}\n")
    for conditions in (Conditions(), Conditions(range="bytes=1-3"), Conditions(if_match="*")):
        assert _ours(path, conditions, None) == _werkzeug(path, conditions, None)


def test_the_date_header_is_now(tmp_path):
    path = _file(tmp_path, "a.css", b"x")
    decision = decide(str(path), FileStat(1, 0.5), Conditions(), now=86400.0)
    assert ("Date", "Fri, 02 Jan 1970 00:00:00 GMT") in decision.headers
    assert ("Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT") in decision.headers


OPTIONS = [
    None,
    "",
    "multipart/form-data",
    "multipart/form-data;",
    "multipart/form-data; boundary=abc",
    "Multipart/Form-Data; BOUNDARY=abc",
    'multipart/form-data; boundary="a b;c"',
    'multipart/form-data; boundary="a\\"b\\\\c"',
    'multipart/form-data; boundary="unclosed',
    "multipart/form-data; boundary",
    "multipart/form-data; =x; boundary=y",
    "multipart/form-data; boundary=x; boundary=y",
    "multipart/form-data; boundary*=utf-8''a%20b",
    "multipart/form-data; boundary*=koi8-r''a%20b",
    "multipart/form-data; boundary*0=ab; boundary*1=cd",
    "multipart/form-data; boundary*0*=utf-8''a%20; boundary*1*=b%21",
    "multipart/form-data; boundary*0=ab; boundary=cd",
    "multipart/form-data; boundary=cd; boundary*0=ab",
    'form-data; name="fi%22le"; filename="a.jpg"',
    "  text/plain ; charset = utf-8",
    "text/plain;charset=utf-8;;format=flowed",
]


@pytest.mark.parametrize("value", OPTIONS)
def test_options_headers_read_as_werkzeug_reads_them(value):
    assert parse_options_header(value) == werkzeug_options(value)


def test_options_headers_fuzzed_against_werkzeug():
    pick = random.Random(15)
    alphabet = ['"', "\\", ";", "=", " ", "*", "'", "%", "0", "1", "a", "B", "-", "%22", "\u00e9"]
    for _ in range(3000):
        tail = "".join(pick.choice(alphabet) for _ in range(pick.randrange(1, 30)))
        value = f"multipart/form-data; boundary{tail}"
        assert parse_options_header(value) == werkzeug_options(value), value
