"""The server `figway serve` runs (gateway/protocol.py): request heads are bounded in size
and in time, on a real uvicorn process, over raw sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.servers import Server, base_env, figway, free_port, serving
from tests.test_contract import legacy_manifest

MAX_HEADER_BYTES = 4096
HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("limits")
    env = base_env(
        tmp,
        FIGWAY_MANIFEST=str(legacy_manifest(tmp / "migration_status.yaml")),
        FIGWAY_MAX_HEADER_BYTES=str(MAX_HEADER_BYTES),
        FIGWAY_HEADER_TIMEOUT=str(HEADER_TIMEOUT_S),
    )
    done = figway("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    port = free_port()
    with serving(["serve", "--port", str(port)], env, port) as url:
        yield url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (bounded by the socket's timeout)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def test_a_head_within_the_limit_is_served(server):
    with _connect(server) as sock:
        sock.sendall(_get("/api/version", "X-Pad: " + "a" * (MAX_HEADER_BYTES - 200)))
        assert _read_all(sock).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    "request_head",
    [
        # One header past the limit, sent at once and finished.
        _get("/api/version", "X-Pad: " + "a" * MAX_HEADER_BYTES),
        # Many small headers that add up past it.
        _get("/api/version", *[f"X-Pad-{i}: " + "b" * 100 for i in range(60)]),
        # A request line past it.
        _get("/api/version?q=" + "c" * MAX_HEADER_BYTES),
    ],
    ids=["one long header", "many headers", "long url"],
)
def test_a_head_past_the_limit_is_431_in_the_legacy_shape(server, request_head):
    with _connect(server) as sock:
        sock.sendall(request_head)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"x-content-type-options: nosniff" in answer.lower()
    assert answer.endswith(
        b'{"error": "Request header fields too large", "code": "HEADERS_TOO_LARGE"}'
    )


def test_a_header_that_never_ends_is_cut_off_at_the_limit(server):
    """The server answers 431 while the header is still arriving: it never buffers it whole."""
    answer = b""
    sent = 0
    with _connect(server) as sock:
        sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
        sock.settimeout(0.05)
        while not answer and sent < 16 * MAX_HEADER_BYTES:  # bounded: answered long before
            sock.sendall(b"a" * 1024)
            sent += 1024
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
        sock.settimeout(10)
        answer += _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), (sent, answer[:200])
    assert answer.endswith(b'"code": "HEADERS_TOO_LARGE"}')


def test_a_head_trickling_in_is_closed_after_the_timeout(server):
    """A slowloris client: one header line at a time, each in time for no idle timer."""
    started = time.monotonic()
    with _connect(server) as sock:
        sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for i in range(40):  # 40 x 0.1 s: four times the timeout, bounded
            try:
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.1)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
    elapsed = time.monotonic() - started
    assert closed, "the server kept a head trickling in for four times its timeout"
    assert HEADER_TIMEOUT_S * 0.9 <= elapsed < HEADER_TIMEOUT_S * 3


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(server):
    started = time.monotonic()
    with _connect(server) as sock:
        sock.settimeout(HEADER_TIMEOUT_S * 5)
        assert sock.recv(1024) == b""
    assert time.monotonic() - started < HEADER_TIMEOUT_S * 3


def test_kept_alive_requests_each_get_their_own_head_time(server):
    """The timer is per head: a connection serving requests for longer than the timeout is
    not cut, as long as each head arrives in time."""
    with _connect(server) as sock:
        sock.settimeout(10)
        deadline = time.monotonic() + HEADER_TIMEOUT_S * 2
        served = 0
        while time.monotonic() < deadline:
            sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 "), head[:200]
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += sock.recv(65536)
            served += 1
            # Idle a moment between requests (within the keep-alive time): not closed.
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(1)
            sock.settimeout(10)
        assert served >= 5
