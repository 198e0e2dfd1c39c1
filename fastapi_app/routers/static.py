"""Static files: the twin of Flask's own static view (`GET /static/<path:filename>`), serving
shared/web/static as Flask's send_from_directory does: the name guessed type, no-cache with
ETag and Last-Modified, 304/412, one Range, and werkzeug's safe_join refusals as the 404
every unknown address gets (HTML for a browser, JSON for anyone else).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import stat as stat_mode

from fastapi import APIRouter, Depends, Request, Response
from starlette.exceptions import HTTPException

from fastapi_app.deps import require
from fastapi_app.files import conditions, file_response
from shared.errors import RangeNotSatisfiable
from shared.web.conditional import FileStat, decide
from shared.web.pages import STATIC, STATIC_URL_PATH

router = APIRouter(tags=["pages"])
# werkzeug.security.safe_join's directory: Flask's static_folder, the absolute path as text
# (its ETag hashes the joined path, so both sides must spell it alike).
_ROOT = os.fspath(STATIC)
# werkzeug's RequestedRangeNotSatisfiable.name, which the legacy error handler words.
_UNSATISFIABLE = "Requested Range Not Satisfiable"


# Out of the OpenAPI document, as Flask's static view is out of the legacy contract's API.
@router.get(
    f"{STATIC_URL_PATH}/{{filename:path}}",
    include_in_schema=False,
    dependencies=[Depends(require("public"))],
)
async def static_file(filename: str, request: Request) -> Response:
    path = safe_join(_ROOT, filename)
    found = None if path is None else await asyncio.to_thread(_regular_file, path)
    if path is None or found is None:
        raise HTTPException(404)  # the one not-found handler answers it, as Flask's does
    decision = decide(path, found, conditions(request))
    if decision.status == 416:
        raise RangeNotSatisfiable(_UNSATISFIABLE)  # Flask's HTTPException path: no headers
    return file_response(request, path, decision)


def safe_join(directory: str, untrusted: str) -> str | None:
    """werkzeug.security.safe_join on POSIX: the normalized path under `directory`, or None
    when it would leave it (absolute, `..`)."""
    if not untrusted:
        return directory
    part = posixpath.normpath(untrusted)
    if os.path.isabs(part) or part == ".." or part.startswith(("/", "../")):
        return None
    return posixpath.join(directory, part)


def _regular_file(path: str) -> FileStat | None:
    """The file's stat, or None for what os.path.isfile refuses (missing, a directory, a
    name no file system takes). Blocking: run it in a worker thread."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat_mode.S_ISREG(found.st_mode):
        return None
    return FileStat(size=found.st_size, mtime=found.st_mtime)
