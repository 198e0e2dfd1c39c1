"""Admin routes on the legacy app: system figures from real commands, and the app's log."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import sys
import time
from pathlib import Path

import pytest

from shared.services.system import (
    disk_json,
    parse_ffmpeg_version,
    parse_proc_start_ticks,
    parse_proc_status,
    parse_yt_dlp_version,
    run_version_command,
    run_version_command_async,
    versions_json,
)
from tests.conftest import assert_error

# -- GET /api/admin/system --------------------------------------------------------------


def test_system_reports_real_versions_disk_and_process(client, bearer, settings):
    response = client.get("/api/admin/system", headers=bearer("admin"))
    assert response.status_code == 200
    body = response.get_json()
    versions = body["versions"]
    assert versions["python"] == platform.python_version()
    assert isinstance(versions["ffmpeg"], str) and versions["ffmpeg"]
    assert isinstance(versions["yt_dlp"], str) and versions["yt_dlp"][0].isdigit()
    disk = body["disk"]
    assert disk["path"] == str(settings.media_dir.absolute())
    assert settings.media_dir.is_dir()  # created when missing
    assert disk["total"] > 0 and 0 <= disk["used"] <= disk["total"] and disk["free"] >= 0
    process = body["process"]
    assert process["pid"] == os.getpid()
    assert process["rss_bytes"] > 0 and process["threads"] >= 1
    assert process["cpu_seconds"] >= 0 and process["uptime_seconds"] >= 0


def test_system_needs_admin(client, bearer):
    assert_error(client.get("/api/admin/system"), 401, "AUTH_REQUIRED")
    assert_error(client.get("/api/admin/system", headers=bearer("manager")), 403, "FORBIDDEN")


@pytest.mark.parametrize("ffmpeg", ["missing", "not-executable", "failing"])
def test_system_survives_a_broken_ffmpeg(app_with, bearer, tmp_path, ffmpeg):
    path = tmp_path / f"ffmpeg-{ffmpeg}"
    if ffmpeg == "not-executable":
        path.write_text("#!/bin/sh\necho 'ffmpeg version 1'\n")
        path.chmod(0o644)
    elif ffmpeg == "failing":
        path.write_text("#!/bin/sh\necho 'ffmpeg version 1'\nexit 1\n")
        path.chmod(0o755)
    app = app_with(ffmpeg_path=str(path))
    response = app.test_client().get("/api/admin/system", headers=bearer("admin"))
    assert response.status_code == 200
    assert response.get_json()["versions"]["ffmpeg"] is None


def _blocking(argv: list[str], limit_s: float = 5.0) -> str | None:
    return run_version_command(argv, timeout=limit_s)


def _on_a_loop(argv: list[str], limit_s: float = 5.0) -> str | None:
    return asyncio.run(run_version_command_async(argv, limit_s))


# The legacy runner and the twin's asyncio one must agree on every outcome.
RUNNERS = pytest.mark.parametrize("run", [_blocking, _on_a_loop], ids=["blocking", "asyncio"])


@RUNNERS
def test_a_hanging_command_times_out_to_none(run):
    started = time.monotonic()
    marker = f"figway-hang-{os.getpid()}-{run.__name__}"
    hang = [sys.executable, "-c", "import threading; threading.Event().wait()", marker]
    assert run(hang, 0.5) is None
    assert time.monotonic() - started < 5
    # Killed, not left behind.
    assert not [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@RUNNERS
def test_run_version_command_outcomes(tmp_path, run):
    python = f"Python {platform.python_version()}\n"
    assert run([sys.executable, "--version"]) == python
    assert run([sys.executable, "-c", "raise SystemExit(3)"]) is None
    assert run([str(tmp_path / "absent")]) is None


def test_the_twin_runs_the_version_commands_at_once(tmp_path):
    """Each fake tool waits until the other has started: run one after the other, the
    first would wait in vain and fail; run at once, both answer."""
    for name, other in (("a", "b"), ("b", "a")):
        tool = tmp_path / name
        tool.write_text(
            f"#!/bin/sh\ntouch {tmp_path}/{name}.started\n"
            f"for i in $(seq 30); do [ -e {tmp_path}/{other}.started ] && "
            f"echo 'ffmpeg version 9.9' && exit 0; sleep 0.1; done\nexit 1\n"
        )
        tool.chmod(0o755)
    commands: dict[str, list[str] | None] = {
        "ffmpeg": [str(tmp_path / "a"), "-version"],
        "yt_dlp": [str(tmp_path / "b"), "-version"],
    }
    assert asyncio.run(_all(commands)) == ["ffmpeg version 9.9\n"] * 2
    # The same tools one after the other, as the blocking side runs them: the first fails.
    for marker in tmp_path.glob("*.started"):
        marker.unlink()
    assert [_blocking(argv) for argv in commands.values() if argv] == [None, "ffmpeg version 9.9\n"]


async def _all(commands: dict[str, list[str] | None]) -> list[str | None]:
    return list(
        await asyncio.gather(
            *(run_version_command_async(argv) for argv in commands.values() if argv)
        )
    )


def test_version_parsers():
    assert (
        parse_ffmpeg_version(
            "ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg developers\n"
            "built with gcc 13\n"
        )
        == "6.1.1-3ubuntu5"
    )
    assert parse_ffmpeg_version("ffmpeg version n7.0-static https://example.org\n") == "n7.0-static"
    assert parse_ffmpeg_version("Usage: something else\n") is None
    assert parse_ffmpeg_version("") is None
    assert parse_yt_dlp_version("2024.08.06\n") == "2024.08.06"
    assert parse_yt_dlp_version("\n2024.10.22.232916\n") == "2024.10.22.232916"
    assert parse_yt_dlp_version("Traceback (most recent call last):\n") is None
    assert parse_yt_dlp_version("") is None


def test_versions_json_maps_missing_output_to_null():
    versions = versions_json({"ffmpeg": None, "yt_dlp": "2024.08.06\n"})
    assert versions == {"ffmpeg": None, "yt_dlp": "2024.08.06", "python": platform.python_version()}
    assert versions_json({})["yt_dlp"] is None


def test_proc_parsers():
    status = "Name:\tpython\nVmRSS:\t   51200 kB\nThreads:\t7\n"
    assert parse_proc_status(status) == {"rss_bytes": 51200 * 1024, "threads": 7}
    assert parse_proc_status("Name:\tx\n") == {}
    # The command name may hold spaces and parentheses; starttime is the 22nd field.
    rest = " ".join(str(n) for n in range(3, 40))
    assert parse_proc_start_ticks(f"123 (odd) name) {rest}") == 22
    assert parse_proc_start_ticks("123 (short) S 1 2") is None


def test_disk_json_of_an_impossible_path_is_null(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    disk = disk_json(blocker / "media")
    assert disk == {"path": str(blocker / "media"), "total": None, "used": None, "free": None}


# -- GET /api/admin/logs ----------------------------------------------------------------


def test_logs_tail_the_apps_own_log(client, bearer, settings):
    headers = bearer("admin")
    logger = logging.getLogger("figway.tests")
    for n in range(5):
        logger.warning("admin-log-line %d", n)
    response = client.get("/api/admin/logs?lines=3", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 3 == len(body["lines"])
    assert [line.rsplit(" ", 1)[-1] for line in body["lines"]] == ["2", "3", "4"]
    assert all("admin-log-line" in line for line in body["lines"])
    everything = client.get("/api/admin/logs", headers=headers).get_json()
    assert (
        everything["count"]
        == len(everything["lines"])
        == len(settings.log_path.read_text().splitlines())
    )


def test_logs_default_to_100_lines(client, bearer):
    headers = bearer("admin")
    logger = logging.getLogger("figway.tests")
    for n in range(150):
        logger.warning("line %d", n)
    body = client.get("/api/admin/logs", headers=headers).get_json()
    assert body["count"] == 100 and body["lines"][-1].endswith("line 149")
    assert client.get("/api/admin/logs?lines=1000", headers=headers).get_json()["count"] == 150


@pytest.mark.parametrize("lines", ["0", "1001", "-1", "abc", "", "1.5", "\u0661", "99999"])
def test_logs_reject_bad_line_counts(client, bearer, lines):
    assert_error(
        client.get(f"/api/admin/logs?lines={lines}", headers=bearer("admin")),
        400,
        "VALIDATION_ERROR",
    )


@pytest.mark.parametrize("param", ["file", "path", "filename", "name"])
def test_logs_accept_no_file_path(client, bearer, param):
    response = client.get(f"/api/admin/logs?lines=5&{param}=/etc/passwd", headers=bearer("admin"))
    assert_error(response, 400, "VALIDATION_ERROR")
    assert "no file path accepted" in response.get_json()["error"]


def test_logs_need_admin(client, bearer):
    assert_error(client.get("/api/admin/logs"), 401, "AUTH_REQUIRED")
    assert_error(client.get("/api/admin/logs", headers=bearer("manager")), 403, "FORBIDDEN")
