"""Servers in subprocesses, wrk against them, results as numbers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.polling import wait_for

# One way to run servers for tests and benchmarks alike.
from tests.servers import Server, base_env, free_port, running

__all__ = ["base_env", "free_port", "running"]

WRK_MISSING = (
    "wrk is not installed. On Debian or Ubuntu: apt-get update && apt-get install -y wrk\n"
    "(on macOS: brew install wrk)"
)


# The search the benchmarks send (the fake catalogue has artists named "... Horizon").
QUERY = "horizon"
PROVIDER_SEARCH = f"/api/v1/search/entities?q={QUERY}"


@contextmanager
def running_provider(
    port: int, latency_ms: float, env: dict[str, str], log: Path
) -> Iterator[Server]:
    """`figway fake-provider` in its own process, once it answers the benchmarks' search."""
    command = [
        *(sys.executable, "-m", "gateway.cli", "fake-provider"),
        *("--port", str(port), "--latency-ms", f"{latency_ms:g}"),
    ]
    with running(command, env, port, log, ready_path=PROVIDER_SEARCH) as provider:
        yield provider


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


# --- shared by the scenarios that serve the real app -------------------------------------

# The deployment the owners run: MariaDB, one uvicorn worker per core. Unset (or empty)
# FIGWAY_BENCH_DATABASE_URL measures on a SQLite file instead.
BENCH_DATABASE_ENV = "FIGWAY_BENCH_DATABASE_URL"
WORKERS = os.cpu_count() or 1
USERNAME = "bench"
PASSWORD = "bench-password-0123"  # noqa: S105 - a throwaway user in a throwaway database


@contextmanager
def bench_database(work: Path) -> Iterator[tuple[str, str]]:
    """A fresh database for the run, and how the report names it."""
    server = os.environ.get(BENCH_DATABASE_ENV, "").strip()
    if not server:
        yield f"sqlite:///{work / 'bench.db'}", "SQLite"
        return
    from sqlalchemy.exc import SQLAlchemyError

    from shared.db.scratch import scratch_database

    stack = ExitStack()
    try:
        url = stack.enter_context(scratch_database(server, "figway_bench"))
    except SQLAlchemyError as exc:
        print(f"bench: no database server at {server} ({type(exc).__name__}); using SQLite")
        yield f"sqlite:///{work / 'bench.db'}", "SQLite"
        return
    with stack:
        yield url, "MariaDB"


def setting(name: str) -> int:
    """An integer setting's default, as the servers under test see it."""
    from shared.config import Settings

    value = Settings.model_fields[name].default
    assert isinstance(value, int)
    return value


def create_user(database_url: str) -> None:
    """A plain user in the bench database, with the shared model and password hashing."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from shared.auth.passwords import hash_password
    from shared.db.engine import sync_url
    from shared.db.models import User

    engine = create_engine(sync_url(database_url))
    try:
        with Session(engine) as session, session.begin():
            # A low work factor: the hash is checked once, for the token.
            session.add(
                User(
                    username=USERNAME,
                    role="user",
                    preferences={},
                    password_hash=hash_password(PASSWORD, n=16),
                )
            )
    finally:
        engine.dispose()


def token(gateway: str) -> str:
    """A bearer token for the bench user, from the server at `gateway`."""
    response = httpx.post(
        gateway + "/api/auth/token",
        json={"username": USERNAME, "password": PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    found = response.json()["access_token"]
    assert isinstance(found, str)
    return found


def wait_owner(url: str, auth: str, owner: str) -> None:
    """Until a successful answer for `url` says `owner` served it (the gateway follows a
    flip within about a second; a draining legacy queue may answer 503 meanwhile)."""
    name, _, value = auth.partition(": ")

    def served() -> bool:
        response = httpx.get(url, headers={name: value}, timeout=15)
        return response.status_code == 200 and response.headers.get("x-served-by") == owner

    wait_for(served, timeout=15, interval=0.05)


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's or gunicorn's workers), from /proc."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(c) for c in task.read_text().split()]
        except OSError:
            continue
        for child in children:
            found += tree_pids(child)
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its descendants so far."""
    return sum(cpu_s(p) for p in tree_pids(pid))


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over a process and its descendants, from /proc (Linux;
    zeros elsewhere). Summed RSS counts the pages a forked worker shares with its parent
    twice; PSS splits them between the sharers, so it sums to what the tree really holds."""
    rss = pss = 0
    for p in tree_pids(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                kb = int(rest.split()[0])
                if key == "Rss":
                    rss += kb
                else:
                    pss += kb
    return rss, pss


@contextmanager
def serve_figway(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`figway serve` with WORKERS workers; yields its URL and its pid (for tree_cpu_s)."""
    port = free_port()
    command = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
    with running(
        [*command, "--workers", str(WORKERS)], env, port, log, ready_path="/api/version"
    ) as url:
        yield url, url.pid


def rotating_cpu_rounds(
    servers: dict[str, tuple[str, int]],
    path: str,
    connections: int,
    rounds: int,
    seconds: float,
    script: Path | None = None,
    *,
    enter: Callable[[str], None] | None = None,
    leave: Callable[[str], None] | None = None,
) -> dict[str, list[tuple[Load, float]]]:
    """Load each server at `path` with wrk (running `script`, if given), `rounds` times;
    per round, its load and its processes' CPU ms per request. Each round starts with
    another server, so drift in the machine's load hits them alike.

    Sides may share one server, set up for each side's turn by `enter(name)` (and looked
    at after it by `leave(name)`): no difference between two servers' processes then
    (their memory layout, their cores) is taken for the sides'."""
    measured: dict[str, list[tuple[Load, float]]] = {name: [] for name in servers}
    names = list(servers)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            url, pid = servers[name]
            if enter is not None:
                enter(name)
            before = tree_cpu_s(pid)
            load = wrk(url + path, connections=connections, seconds=seconds, script=script)
            cpu_ms = (tree_cpu_s(pid) - before) * 1000 / max(1, load.requests)
            if leave is not None:
                leave(name)
            if load.non_2xx:
                raise RuntimeError(f"{name}: {load.non_2xx} answers were not 2xx")
            measured[name].append((load, cpu_ms))
    return measured
