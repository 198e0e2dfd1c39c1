"""Servers in subprocesses, wrk against them, results as numbers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# One way to run servers for tests and benchmarks alike.
from tests.servers import base_env, free_port, running

__all__ = ["base_env", "free_port", "running"]

WRK_MISSING = (
    "wrk is not installed. On Debian or Ubuntu: apt-get update && apt-get install -y wrk\n"
    "(on macOS: brew install wrk)"
)


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit(WRK_MISSING)
    return found


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # connect/read/write/timeout errors plus non-2xx/3xx responses
    # For scenarios where failures are part of the story (a full legacy queue answers 503):
    # `requests_per_s` counts every answer, `ok_per_s` only the successful ones.
    non_2xx: int = 0

    @property
    def ok_per_s(self) -> float:
        """Successful (2xx/3xx) answers per second."""
        if self.requests <= 0:
            return 0.0
        return self.requests_per_s * max(0, self.requests - self.non_2xx) / self.requests


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
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_2xx = int(non_2xx_match[1]) if non_2xx_match else 0
    errors += non_2xx
    return Load(rps, p50, p99, total, errors, non_2xx)


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    headers: Sequence[str] = (),
    script: Path | None = None,
    timeout: float = 10.0,
) -> Load:
    """`timeout`: how long wrk waits for an answer before counting a timeout error; long,
    so that a slow answer counts as latency."""
    command = [
        require_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        f"{timeout:g}s",
    ]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


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
