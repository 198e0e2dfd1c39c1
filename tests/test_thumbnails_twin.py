"""The thumbnail twins, for what the parity runner cannot show: every header Flask sends
for the very same file (parity compares a few, and each side has its own file there),
hostile uploads leaving nothing behind on the twin, and the blocking work (ffmpeg,
Pillow, file IO) running off the event loop.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from fastapi_app import create_fastapi_app
from legacy_flask import create_app
from shared.config import Settings
from shared.db.models import Artist, Video
from shared.services import media as media_service
from tests import media_fixtures
from tests.loop_guard import guarding
from tests.media_fixtures import place_video

# A fixture this module uses by name, bound here so pytest finds it.
sample_video = media_fixtures.sample_video

# Headers that differ by the clock alone.
CLOCK_HEADERS = {"date"}


@pytest.fixture
def twin(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_fastapi_app(settings)) as client:
        yield client


@pytest.fixture
def legacy(settings: Settings) -> Iterator[Flask]:
    """Flask itself, never through the gateway (the `app` fixture may be)."""
    application = create_app(settings)
    yield application
    application.extensions["figway"].close()


def _artist(db_session: Session, settings: Settings, image: bool = False) -> int:
    artist = Artist(name="Twin Artist", genres=[])
    db_session.add(artist)
    db_session.flush()
    if image:
        stored = media_service.artist_thumbnail_path(settings, artist.id)
        stored.parent.mkdir(parents=True)
        Image.new("RGB", (40, 30), "teal").save(stored, format="JPEG")
        artist.thumbnail_path = str(stored)
    db_session.commit()
    return artist.id


def _multipart(parts: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A body in werkzeug's encoding (what the legacy suite sends), with repeated names."""
    boundary = "twin-test-boundary"
    chunks = []
    for name, data in parts:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="a.png"'
        chunks.append(head.encode() + b"\r\nContent-Type: image/png\r\n\r\n" + data + b"\r\n")
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, format="PNG")
    return out.getvalue()


def _headers(items: Any) -> dict[str, str]:
    found = {k.lower(): v for k, v in items if k.lower() not in CLOCK_HEADERS}
    if found.get("content-type") == "application/json":
        # An error: its JSON is compared parsed (Flask's ends in a newline), not by length.
        found.pop("content-length", None)
    return found


@pytest.mark.parametrize(
    "request_headers",
    [
        {},
        {"Range": "bytes=5-20"},
        {"Range": "bytes=0-1,5-6"},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        {"If-Match": '"stale"'},
    ],
)
def test_every_header_is_flasks_for_the_same_file(
    twin, legacy, db_session, settings, bearer, request_headers
):
    artist_id = _artist(db_session, settings, image=True)
    auth = bearer("readonly")
    path = f"/api/artists/{artist_id}/thumbnail"
    flask = legacy.test_client().get(path, headers={**auth, **request_headers})
    fastapi = twin.get(path, headers={**auth, **request_headers})
    assert fastapi.status_code == flask.status_code
    assert _headers(fastapi.headers.items()) == _headers(flask.headers.items())
    if fastapi.headers.get("content-type") == "application/json":
        assert fastapi.json() == flask.get_json()
    else:
        assert fastapi.content == flask.get_data()
    flask.close()


def test_flasks_validators_give_304_on_the_twin(twin, legacy, db_session, settings, bearer):
    artist_id = _artist(db_session, settings, image=True)
    auth = bearer("readonly")
    path = f"/api/artists/{artist_id}/thumbnail"
    first = legacy.test_client().get(path, headers=auth)
    first.close()
    by_tag = twin.get(path, headers={**auth, "If-None-Match": first.headers["ETag"]})
    by_date = twin.get(path, headers={**auth, "If-Modified-Since": first.headers["Last-Modified"]})
    for answer in (by_tag, by_date):
        assert answer.status_code == 304 and answer.content == b""
        assert "content-type" not in answer.headers and "content-length" not in answer.headers


def _nothing_stored(db_session: Session, settings: Settings, artist_id: int) -> None:
    folder = media_service.artist_thumbnail_path(settings, artist_id).parent
    assert not folder.exists() or list(folder.iterdir()) == []
    db_session.expire_all()
    artist = db_session.get(Artist, artist_id)
    assert artist is not None and artist.thumbnail_path is None


def _whole(data: bytes) -> tuple[bytes, str]:
    return _multipart([("file", data)])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (_whole(b"just text\n" * 50), 400),
        (_whole(_png((300, 300))[:150]), 400),
        (_whole(b""), 400),
        # Unterminated: the client stops mid-file. werkzeug finds no file in it.
        (_whole(_png((20, 20)))[0][:-40], 400),
        (b"--twin-test-boundary\r\nno headers at all\r\n--twin-test-boundary--\r\n", 400),
        (_whole(b"\0" * (5 * 1024 * 1024 + 1)), 413),
        (_whole(b"\0" * (5 * 1024 * 1024 + 100 * 1024)), 413),
    ],
)
def test_hostile_uploads_leave_nothing_on_the_twin(
    twin, db_session, settings, bearer, body, status
):
    artist_id = _artist(db_session, settings)
    data, content_type = body if isinstance(body, tuple) else (body, _whole(b"")[1])
    answer = twin.post(
        f"/api/artists/{artist_id}/thumbnail",
        content=data,
        headers={**bearer("manager"), "Content-Type": content_type},
    )
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error", "code"}
    _nothing_stored(db_session, settings, artist_id)


def test_bombs_leave_nothing_on_the_twin(twin, db_session, settings, bearer):
    from tests.test_media import png_bomb

    artist_id = _artist(db_session, settings)
    for size in (20000, 7000):
        data, content_type = _whole(png_bomb(size, size))
        answer = twin.post(
            f"/api/artists/{artist_id}/thumbnail",
            content=data,
            headers={**bearer("manager"), "Content-Type": content_type},
        )
        assert answer.status_code == 400 and answer.json()["code"] == "VALIDATION_ERROR"
    _nothing_stored(db_session, settings, artist_id)


@pytest.mark.parametrize(
    "parts",
    [
        [("file", b"")],  # werkzeug writes an empty file with no CRLF before the delimiter
        [("file", _png((40, 30))), ("file", _png((80, 60)))],  # the first file counts
        [("other", _png((40, 30)))],
    ],
)
def test_the_same_file_part_as_flask(twin, legacy, db_session, settings, bearer, parts):
    artist_id = _artist(db_session, settings)
    auth = bearer("manager")
    path = f"/api/artists/{artist_id}/thumbnail"
    if parts == [("file", b"")]:
        part = FileStorage(io.BytesIO(b""), filename="a.png", content_type="image/png")
        boundary, data = encode_multipart({"file": part})
        content_type = f"multipart/form-data; boundary={boundary}"
    else:
        data, content_type = _multipart(parts)
    headers = {**auth, "Content-Type": content_type}
    flask = legacy.test_client().post(path, data=data, headers=headers)
    stored = media_service.artist_thumbnail_path(settings, artist_id)
    flask_image = stored.read_bytes() if stored.exists() else None
    stored.unlink(missing_ok=True)
    fastapi = twin.post(path, content=data, headers=headers)
    assert (fastapi.status_code, fastapi.json().get("error")) == (
        flask.status_code,
        flask.get_json().get("error"),
    )
    assert (stored.read_bytes() if stored.exists() else None) == flask_image


def _record_threads(
    monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]
) -> dict[str, list[bool]]:
    """Wrap the shared blocking functions; record, per call, whether a loop ran there."""
    seen: dict[str, list[bool]] = {name: [] for name in names}

    def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                seen[name].append(True)
            except RuntimeError:
                seen[name].append(False)
            return real(*args, **kwargs)

        return wrapper

    for name in names:
        monkeypatch.setattr(media_service, name, wrap(name, getattr(media_service, name)))
    return seen


def test_blocking_work_runs_off_the_loop(
    twin, db_session, settings, bearer, sample_video: Path, monkeypatch
):
    seen = _record_threads(
        monkeypatch,
        (
            "ensure_video_thumbnail",
            "ensure_sized_thumbnail",
            "read_upload",
            "prepare_artist_image",
            "write_atomic",
        ),
    )
    artist_id = _artist(db_session, settings)
    video = Video(artist_id=artist_id, title="Twin Song", status="downloaded", duration=2)
    db_session.add(video)
    db_session.flush()
    video.file_path = str(place_video(settings, sample_video, video.id))
    db_session.commit()
    reader, manager = bearer("readonly"), bearer("manager")
    data, content_type = _whole(_png((64, 64)))
    with guarding() as caught:  # ffmpeg started on the loop would be caught here
        assert twin.get(f"/api/videos/{video.id}/thumbnail", headers=reader).status_code == 200
        sized = twin.get(f"/api/videos/{video.id}/thumbnail/small", headers=reader)
        assert sized.status_code == 200
        uploaded = twin.post(
            f"/api/artists/{artist_id}/thumbnail",
            content=data,
            headers={**manager, "Content-Type": content_type},
        )
        assert uploaded.status_code == 200
    assert caught == []
    # Each was called (some from within another: the sized one makes the frame first),
    # and never where a loop runs.
    assert all(calls and not any(calls) for calls in seen.values()), seen
