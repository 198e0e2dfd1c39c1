"""Real gateway processes: flips under load lose nothing; every process follows a flip."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.servers import base_env, figway, free_port, serving
from tests.test_contract import legacy_manifest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    env = base_env(tmp_path, FIGWAY_MANIFEST=str(manifest))
    done = figway("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    return env


def _flip(env: dict[str, str], to: str, reason: str) -> None:
    # --force: these tests are about routing; the parity check has tests of its own.
    done = figway(
        "flip",
        "GET /api/version",
        "--to",
        to,
        "--reason",
        reason,
        "--by",
        "test",
        "--force",
        env=env,
    )
    assert done.returncode == 0, done.stderr


def test_flipping_back_and_forth_under_load_loses_no_request(env):
    port = free_port()
    with serving(["serve", "--port", str(port)], env, port) as url:
        statuses: Counter[str] = Counter()
        sides: Counter[str] = Counter()
        bodies: set[str] = set()
        stop = asyncio.Event()

        async def client_loop(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                try:
                    response = await client.get(url + "/api/version")
                except httpx.HTTPError as exc:
                    statuses[f"error {type(exc).__name__}"] += 1
                    continue
                statuses[str(response.status_code)] += 1
                sides[response.headers["x-served-by"]] += 1
                bodies.add(response.text)

        async def run() -> None:
            # Idle connections are let go well before the server's keep-alive timeout (5 s):
            # reusing one just as the server closes it is a client's race, not a lost request.
            limits = httpx.Limits(max_connections=32, keepalive_expiry=2.0)
            # Generous: a slow answer on a loaded machine is not a lost request.
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:
                tasks = [asyncio.create_task(client_loop(client)) for _ in range(16)]
                for i in range(12):
                    await asyncio.to_thread(
                        _flip, env, "fastapi" if i % 2 == 0 else "flask", f"load test {i}"
                    )
                    await asyncio.sleep(0.15)
                stop.set()
                await asyncio.gather(*tasks)

        asyncio.run(run())
    assert set(statuses) == {"200"}, statuses
    assert statuses["200"] > 100
    assert sides["flask"] > 0 and sides["fastapi"] > 0, sides
    # Both sides answered the same JSON (spacing may differ between the serializers).
    assert len({httpx.Response(200, text=b).json().__repr__() for b in bodies}) == 1


def test_two_processes_follow_a_flip_within_a_second(env):
    ports = [free_port(), free_port()]
    with (
        serving(["serve", "--port", str(ports[0])], env, ports[0]) as a,
        serving(["serve", "--port", str(ports[1])], env, ports[1]) as b,
    ):
        for url in (a, b):
            assert httpx.get(url + "/api/version").headers["x-served-by"] == "flask"
        _flip(env, "fastapi", "two processes")
        flipped = time.monotonic()
        pending = {a, b}
        took: dict[str, float] = {}
        while pending and time.monotonic() - flipped < 3:
            for url in list(pending):
                if httpx.get(url + "/api/version").headers["x-served-by"] == "fastapi":
                    took[url] = time.monotonic() - flipped
                    pending.discard(url)
            time.sleep(0.02)
    assert not pending, f"still on flask after 3s: {pending}"
    assert max(took.values()) < 1.0, took


def test_history_shows_flip_and_rollback_with_reasons(env):
    _flip(env, "fastapi", "try the twin")
    done = figway(
        "rollback", "GET /api/version", "--reason", "back for now", "--by", "ops", env=env
    )
    assert done.returncode == 0 and "GET /api/version: fastapi -> flask" in done.stdout
    history = figway("history", env=env).stdout.splitlines()
    assert (
        "flip" in history[0] and "try the twin" in history[0] and "flask -> fastapi" in history[0]
    )
    assert "rollback" in history[1] and "back for now" in history[1] and " ops " in history[1]


def test_status_table_and_rollout(env):
    status = figway("status", "--check", env=env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].endswith("(valid)")
    assert any(line.startswith("1 ") and "0.0%" in line for line in lines)
    assert lines[-1].startswith("total") and " 68 " in lines[-1]
    # Every route has a twin now; --force skips the parity run (tests/gateway/test_parity.py
    # runs the catalogue), so this stays a test of the rollout's bookkeeping.
    done = figway("rollout", "--phase", "1", "--force", "--reason", "phase 1", env=env)
    assert done.returncode == 0, done.stderr
    lines = figway("status", env=env).stdout.splitlines()
    assert any(line.startswith("1 ") and "100.0%" in line for line in lines), lines
    assert any(line.startswith("4 ") and "0.0%" in line for line in lines), lines


def test_serve_refuses_an_invalid_manifest_and_says_which(env):
    path = Path(env["FIGWAY_MANIFEST"])
    path.write_text(path.read_text().replace("    owner: flask", "    owner: rails", 1))
    done = figway("serve", "--port", str(free_port()), env=env, timeout=60)
    assert done.returncode == 2
    assert "unknown owner 'rails'" in done.stderr and f"{path}:" in done.stderr


def _transcoding(source: Path) -> list[int]:
    """The ffmpeg processes reading `source` (found by command line, whoever started them)."""
    needle = str(source.resolve()).encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # exited while we looked
        if (
            argv
            and b"ffmpeg" in Path(argv[0].decode(errors="replace")).name.encode()
            and any(needle in arg for arg in argv)
        ):
            found.append(int(cmdline.parent.name))
    return found


def long_video(path: Path) -> None:
    """Ten minutes of 720p: a transcode of it outlives the test by far. Encoding 10 s once
    and repeating it by stream copy keeps the making cheap."""
    from shared.media.ffmpeg import find_ffmpeg

    exe = find_ffmpeg()
    short = path.with_name("short.mp4")
    subprocess.run(
        [
            exe,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=1280x720:rate=25",
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(short),
        ],
        check=True,
    )
    subprocess.run(
        [
            exe,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "59",
            "-i",
            str(short),
            "-c",
            "copy",
            str(path),
        ],
        check=True,
    )
    short.unlink()


def test_a_client_leaving_a_legacy_transcode_stops_its_ffmpeg(env):
    from tests.media_fixtures import wait_for

    env = {**env, "FIGWAY_ADMIN_PASSWORD": "transcode-test-pw"}
    seeded = figway("seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    demo_files = sorted((Path(env["FIGWAY_VAR_DIR"]) / "media" / "videos").glob("*/demo.mp4"))
    long_video(demo_files[0])
    port = free_port()
    with (
        serving(["serve", "--port", str(port)], env, port) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        client.post("/auth/login", json={"username": "admin", "password": "transcode-test-pw"})
        video_id = int(demo_files[0].parent.name)
        with client.stream("GET", f"/api/videos/{video_id}/stream?transcode=1") as stream:
            assert stream.headers["x-served-by"] == "flask"
            # Held: a generator dropped after its first chunk closes the response, and with
            # it the connection (the client would leave before the test looks).
            chunks = stream.iter_raw()
            first = next(chunks)
            assert first[4:8] == b"ftyp"
            wait_for(lambda: len(_transcoding(demo_files[0])) == 1, timeout=5.0)
        # The connection is gone; the gateway tells the WSGI side, which ends ffmpeg.
        took_from = time.monotonic()
        wait_for(lambda: _transcoding(demo_files[0]) == [], timeout=2.0)
        assert time.monotonic() - took_from < 2.0


def test_a_flip_to_fastapi_runs_the_parity_check_first(env):
    path = Path(env["FIGWAY_MANIFEST"])
    before = path.read_text()
    done = figway("flip", "GET /api/version", "--to", "fastapi", env=env)
    assert done.returncode == 0, done.stderr
    assert "checking parity" in done.stdout and "flask -> fastapi" in done.stdout
    back = figway("rollback", "GET /api/version", env=env)
    assert "checking parity" not in back.stdout  # back to flask is never held up
    assert path.read_text() == before


def test_a_route_without_scenarios_is_refused_by_name():
    from gateway.changes import Change, ChangeRefused
    from parity.vet import require_parity

    # The Socket.IO channel has no scenario kind in the catalogue (tests/test_realtime.py
    # holds its parity): moving it needs --force.
    channel = "SOCKETIO /socket.io/"
    with pytest.raises(ChangeRefused, match=rf"{channel}: no parity scenarios"):
        require_parity(
            [
                Change(channel, 2, "flask", "fastapi"),
                Change("GET /api/version", 1, "flask", "fastapi"),
            ]
        )
    require_parity([Change(channel, 2, "fastapi", "flask")])  # rollback: no check


def test_a_change_that_cannot_be_recorded_is_not_made(tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    env = base_env(tmp_path, FIGWAY_MANIFEST=str(manifest))  # no `db upgrade`: no tables
    before = manifest.read_text()
    done = figway("flip", "GET /api/version", "--to", "fastapi", "--force", env=env)
    assert done.returncode == 1 and "figway db upgrade" in done.stderr
    assert "Traceback" not in done.stderr
    assert manifest.read_text() == before
