"""Phase 4: static files (shared/web/static), public.

Both sides serve the very same files of this checkout, so their ETag (mtime, size and a
hash of the path) and Last-Modified must be equal too: these scenarios compare them. The
conditional ones send the file's own ETag, read here as werkzeug makes it.

No `/static//x` here: Flask answers a doubled slash with its routing's 308 (merge_slashes)
before any view runs, and the gateway hands such a path to Flask for that redirect.
"""

from __future__ import annotations

import os

from parity.demo.catalogue.media import FAR_FUTURE, FAR_PAST
from parity.demo.scenario import Scenario
from shared.web.conditional import FileStat, file_etag
from shared.web.pages import STATIC

ROUTE = "GET /static/<path:filename>"
FILE_HEADERS = ("etag", "last-modified")


def _etag(name: str) -> str:
    """The quoted ETag both sides give the static file `name`."""
    path = os.path.join(os.fspath(STATIC), name)
    found = os.stat(path)
    return f'"{file_etag(path, FileStat(found.st_size, found.st_mtime))}"'


def _get(name: str, path: str, headers: dict[str, str] | None = None) -> Scenario:
    return Scenario(ROUTE, name, path, headers=headers or {}, compared_headers=FILE_HEADERS)


def _scenarios() -> tuple[Scenario, ...]:
    css = _etag("css/app.css")
    return (
        _get("a stylesheet", "/static/css/app.css"),
        _get("the script", "/static/js/app.js"),
        _get("an image", "/static/img/logo.svg"),
        _get("a vendored script", "/static/js/vendor/socket.io.min.js"),
        _get("no known type", "/static/js/vendor/socket.io.LICENSE"),
        _get("its own etag: not modified", "/static/css/app.css", {"If-None-Match": css}),
        _get("a weak etag matches too", "/static/css/app.css", {"If-None-Match": f"W/{css}"}),
        _get("a stale etag", "/static/css/app.css", {"If-None-Match": '"stale"'}),
        _get("modified since long ago", "/static/css/app.css", {"If-Modified-Since": FAR_PAST}),
        _get("not modified since", "/static/css/app.css", {"If-Modified-Since": FAR_FUTURE}),
        _get("if-match another: 412", "/static/css/app.css", {"If-Match": '"stale"'}),
        _get("a range", "/static/css/app.css", {"Range": "bytes=0-99"}),
        _get("a suffix range", "/static/css/app.css", {"Range": "bytes=-10"}),
        _get("a range if unchanged", "/static/css/app.css", {"Range": "bytes=5-", "If-Range": css}),
        _get(
            "a range if stale: all", "/static/css/app.css", {"Range": "bytes=5-", "If-Range": '"x"'}
        ),
        _get("a range past the end", "/static/css/app.css", {"Range": "bytes=999999-"}),
        _get("two ranges: one only", "/static/css/app.css", {"Range": "bytes=0-1,4-5"}),
        _get("an unknown file", "/static/css/missing.css"),
        _get("an unknown file, a browser", "/static/nope.png", {"Accept": "text/html"}),
        _get("a directory", "/static/css"),
        _get("dot segments inside", "/static/css/%2e%2e/js/app.js"),
        _get("out of the folder", "/static/%2e%2e/pages.py"),
        _get("far out of the folder", "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml"),
        _get("backslashes are no separators", "/static/..%5c..%5cpyproject.toml"),
        _get("a null byte", "/static/css/app.css%00.png"),
    )


SCENARIOS = _scenarios()
