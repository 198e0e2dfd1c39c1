"""Servers in subprocesses, wrk against them, results as numbers."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

WRK_MISSING = (
    "wrk is not installed. On Debian or Ubuntu: apt-get update && apt-get install -y wrk\n"
    "(on macOS: brew install wrk)"
)


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit(WRK_MISSING)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # connect/read/write/timeout errors plus non-2xx/3xx responses


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx[1])
    return Load(rps, p50, p99, total, errors)


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    headers: Sequence[str] = (),
    script: Path | None = None,
) -> Load:
    command = [
        require_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def project_env(workdir: Path, **extra: str) -> dict[str, str]:
    """An environment for servers: every setting pointed into `workdir`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "FIGWAY_",
                "DATABASE_URL",
                "REDIS_URL",
                "SECRET_KEY",
                "MEDIA_ROOT",
                "METADATA_BASE_URL",
            )
        )
    }
    env.update(
        FIGWAY_VAR_DIR=str(workdir / "var"),
        DATABASE_URL=f"sqlite:///{workdir / 'var' / 'figway.db'}",
        SECRET_KEY="bench-secret-key-0123456789abcdef",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextmanager
def server(
    command: Sequence[str],
    env: dict[str, str],
    port: int,
    log: Path,
    ready_path: str = "/api/version",
    timeout: float = 60,
) -> Iterator[str]:
    """Run `command` (which listens on `port`) until the block ends."""
    with log.open("w") as out:
        proc = subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + ready_path, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def figway(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
