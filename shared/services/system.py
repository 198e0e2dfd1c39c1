"""What the admin routes report about the running system: tool versions, disk, process, log.

Parsing is kept apart from the blocking calls (subprocess, /proc, the log file): the
async twin runs the same commands on asyncio subprocesses and reuses the parsers.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.errors import ValidationFailed
from shared.logs import tail
from shared.media.ffmpeg import FfmpegMissing, ffmpeg_exe

VERSION_TIMEOUT_S = 5.0
DEFAULT_LOG_LINES = 100
MAX_LOG_LINES = 1000
# int() refuses longer strings of digits (sys.get_int_max_str_digits()).
_INT_DIGITS_MAX = 4300
# The route reads the app's own log and nothing else: any hint of a file is refused.
FILE_PARAMS = ("file", "path", "filename", "name")
# Fallback for uptime where /proc is missing: close to process start, as shared loads early.
_IMPORTED_AT = time.monotonic()


# -- tool versions -------------------------------------------------------------------


def version_commands(settings: Settings) -> dict[str, list[str] | None]:
    """The argv that prints each tool's version; None when the tool cannot be located."""
    try:
        ffmpeg: list[str] | None = [ffmpeg_exe(settings), "-version"]
    except FfmpegMissing:
        ffmpeg = None
    return {"ffmpeg": ffmpeg, "yt_dlp": [sys.executable, "-m", "yt_dlp", "--version"]}


def run_version_command(argv: list[str], timeout: float = VERSION_TIMEOUT_S) -> str | None:
    """The command's stdout, or None when it is missing, fails or hangs."""
    try:
        # A fixed argv from version_commands, never a shell or user input.
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def parse_ffmpeg_version(output: str) -> str | None:
    """'ffmpeg version 6.1.1-3ubuntu5 Copyright ...' -> '6.1.1-3ubuntu5'."""
    match = re.match(r"\s*ffmpeg version (\S+)", output)
    return match.group(1) if match else None


def parse_yt_dlp_version(output: str) -> str | None:
    """The first line, when it looks like a version ('2024.08.06')."""
    lines = output.strip().splitlines()
    first = lines[0].strip() if lines else ""
    return first if re.fullmatch(r"[0-9][0-9A-Za-z.+-]{0,63}", first) else None


VERSION_PARSERS: dict[str, Callable[[str], str | None]] = {
    "ffmpeg": parse_ffmpeg_version,
    "yt_dlp": parse_yt_dlp_version,
}


def versions_json(outputs: Mapping[str, str | None]) -> dict[str, str | None]:
    """Each tool's version from its command output (None: no output), plus Python's."""
    versions: dict[str, str | None] = {}
    for name, parse in VERSION_PARSERS.items():
        output = outputs.get(name)
        versions[name] = parse(output) if output is not None else None
    versions["python"] = platform.python_version()
    return versions


def tool_versions(settings: Settings) -> dict[str, str | None]:
    outputs = {
        name: run_version_command(argv) if argv is not None else None
        for name, argv in version_commands(settings).items()
    }
    return versions_json(outputs)


async def run_version_command_async(
    argv: list[str], limit_s: float = VERSION_TIMEOUT_S
) -> str | None:
    """run_version_command on an asyncio subprocess: the loop keeps serving meanwhile."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
    except OSError:
        return None
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), limit_s)
    except TimeoutError:
        process.kill()  # a hung tool must not outlive the request
        await process.wait()
        return None
    if process.returncode != 0:
        return None
    return stdout.decode("utf-8", "replace")


async def tool_versions_async(settings: Settings) -> dict[str, str | None]:
    """tool_versions with the commands run at once: the slowest sets the wait, not the sum."""
    # Locating ffmpeg may run it once to check it works (imageio-ffmpeg): a thread's job.
    commands = await asyncio.to_thread(version_commands, settings)

    async def output(argv: list[str] | None) -> str | None:
        return await run_version_command_async(argv) if argv is not None else None

    outputs = await asyncio.gather(*(output(argv) for argv in commands.values()))
    return versions_json(dict(zip(commands, outputs, strict=True)))


# -- disk and process ------------------------------------------------------------------


def disk_json(path: Path) -> dict[str, Any]:
    """Usage of the file system holding `path` (created if missing); nulls if unreadable."""
    figures: dict[str, int | None] = {"total": None, "used": None, "free": None}
    try:
        path.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(path)
        figures = {"total": usage.total, "used": usage.used, "free": usage.free}
    except OSError:
        pass
    return {"path": str(path.absolute()), **figures}


def parse_proc_status(text: str) -> dict[str, int]:
    """VmRSS (as bytes) and Threads from /proc/<pid>/status."""
    figures: dict[str, int] = {}
    rss = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    threads = re.search(r"^Threads:\s+(\d+)", text, re.MULTILINE)
    if rss:
        figures["rss_bytes"] = int(rss.group(1)) * 1024
    if threads:
        figures["threads"] = int(threads.group(1))
    return figures


def parse_proc_start_ticks(stat: str) -> int | None:
    """Field 22 (starttime, clock ticks after boot) of /proc/<pid>/stat.

    The command name (field 2) may hold spaces and parentheses, so count from the last ')'.
    """
    fields = stat[stat.rfind(")") + 1 :].split()
    # fields[0] is field 3 (state), so field 22 is fields[19].
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _uptime_seconds() -> float:
    stat, boot = _read("/proc/self/stat"), _read("/proc/uptime")
    ticks = parse_proc_start_ticks(stat) if stat else None
    if ticks is not None and boot:
        return max(0.0, float(boot.split()[0]) - ticks / os.sysconf("SC_CLK_TCK"))
    return time.monotonic() - _IMPORTED_AT


def process_json() -> dict[str, Any]:
    status = _read("/proc/self/status")
    figures = parse_proc_status(status) if status else {}
    times = os.times()
    return {
        "pid": os.getpid(),
        "rss_bytes": figures.get("rss_bytes"),
        "threads": figures.get("threads", threading.active_count()),
        "cpu_seconds": round(times.user + times.system, 3),
        "uptime_seconds": round(_uptime_seconds(), 3),
    }


def system_json(settings: Settings) -> dict[str, Any]:
    """GET /api/admin/system, the blocking way: version commands run one after the other."""
    return system_figures(tool_versions(settings), settings)


def system_figures(versions: dict[str, str | None], settings: Settings) -> dict[str, Any]:
    """The answer around the versions: disk and process figures (reads files: a thread's
    work on the async side)."""
    return {"versions": versions, "disk": disk_json(settings.media_dir), "process": process_json()}


# -- the app's own log -----------------------------------------------------------------


def refuse_file_params(query: Mapping[str, str]) -> None:
    if any(param in query for param in FILE_PARAMS):
        raise ValidationFailed("no file path accepted: only the app's own log can be read")


def log_line_count(query: Mapping[str, str]) -> int:
    """The `?lines=` of GET /api/admin/logs (1-1000, default 100); file names refused."""
    refuse_file_params(query)
    raw = query.get("lines", str(DEFAULT_LOG_LINES))
    # Stricter than int_arg: no sign, no space, no other script's digits, no blank.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _INT_DIGITS_MAX:
        raise ValidationFailed("lines must be an integer")
    if not 1 <= int(raw) <= MAX_LOG_LINES:
        raise ValidationFailed(f"lines must be between 1 and {MAX_LOG_LINES}")
    return int(raw)


def log_json(settings: Settings, lines: int) -> dict[str, Any]:
    found = tail(settings.log_path, lines)
    return {"lines": found, "count": len(found)}
