"""Real `figway` processes for end-to-end tests: free ports, readiness, clean shutdown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def figway(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def base_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A process environment with every setting pointed into `tmp`."""
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
        FIGWAY_VAR_DIR=str(tmp / "var"),
        DATABASE_URL=f"sqlite:///{tmp / 'var' / 'figway.db'}",
        SECRET_KEY="e2e-secret-key-0123456789abcdef",
        FIGWAY_SCRYPT_N="16",
        FIGWAY_MANIFEST_POLL="0.1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Server(str):
    """The base URL of a running server, with its process id."""

    pid: int


@contextmanager
def running(
    command: Sequence[str],
    env: dict[str, str],
    port: int,
    log: Path,
    ready_path: str = "/api/health",
    timeout: float = 60,
    cwd: Path | None = None,
    host: str = "127.0.0.1",
) -> Iterator[Server]:
    """Run `command` (a server listening on `host`:`port`, in `cwd`); yield its URL once
    `ready_path` answers, stop it at the end. Its output goes to `log`, quoted when it
    fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            list(command), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
    url = Server(f"http://{host}:{port}")
    url.pid = proc.pid
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(command)} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + ready_path, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer in {timeout}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        stop(proc, timeout=15)


def stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Ask a child to end (SIGTERM), and kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serving(
    args: Sequence[str],
    env: dict[str, str],
    port: int,
    ready_path: str = "/api/health",
    timeout: float = 60,
) -> Iterator[Server]:
    """Start `figway <args>`; yield its base URL (and .pid) once `ready_path` answers."""
    log = Path(env["FIGWAY_VAR_DIR"]).parent / f"server-{port}.log"
    with running(
        [sys.executable, "-m", "gateway.cli", *args], env, port, log, ready_path, timeout
    ) as url:
        yield url


@contextmanager
def redis_prefix(url: str, name: str) -> Iterator[str]:
    """A key prefix of its own (`figway:rl:<name>-<random>:`) in the Redis at `url`, for
    servers sharing that Redis with others; its keys are deleted at the end."""
    import uuid

    import redis

    prefix = f"figway:rl:{name}-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


class _OtlpSink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:  # quiet: one line per export otherwise
        pass


@contextmanager
def otlp_sink() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An OTLP/HTTP collector on loopback that keeps what it is sent: yields its base URL
    (for OTEL_EXPORTER_OTLP_ENDPOINT) and the (path, body) of each POST received."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpSink)
    received: list[tuple[str, bytes]] = []
    server.received = received  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
