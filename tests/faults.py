"""A TCP proxy a test puts in front of a real service (MariaDB, Redis, the provider) to
make that service fail on cue, without touching the machine's shared server.

    with FaultProxy("127.0.0.1", 3306) as proxy:
        url = f"mysql://root@127.0.0.1:{proxy.port}/db"
        proxy.down()    # connections reset, new ones refused: the server is gone
        proxy.hang()    # connections accepted, no byte forwarded: the server is stopped
        proxy.resume()  # forwarding again (held connections carry on where they paused)
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

UP, HUNG, DOWN = "up", "hung", "down"


class FaultProxy:
    """Forwards every connection to (host, port) while up; see the module docstring."""

    def __init__(self, host: str, port: int, listen: str = "127.0.0.1") -> None:
        """Forwards to (host, port), listening on `listen` (loopback, or an address a
        network namespace reaches the host by)."""
        self.target = (host, port)
        self.listen = listen
        self._state = UP
        self._lock = threading.Lock()
        self._resumed = threading.Condition(self._lock)
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self.port = 0
        self._bind()

    @property
    def state(self) -> str:
        return self._state

    def _bind(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def down(self) -> None:
        """Reset every connection and refuse new ones, as a crashed server would."""
        with self._lock:
            self._state = DOWN
            self._resumed.notify_all()
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            _reset(sock)

    def hang(self) -> None:
        """Keep connections open and accept new ones, but forward nothing."""
        with self._lock:
            self._state = HUNG
        if self._listener is None:
            self._bind()

    def resume(self) -> None:
        """Forward again (and listen again after down())."""
        with self._lock:
            self._state = UP
            self._resumed.notify_all()
        if self._listener is None:
            self._bind()

    def close(self) -> None:
        self._closed.set()
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down() or close()
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        with self._lock:
            self._sockets.add(client)
            while self._state == HUNG:  # a stopped server: the connect itself waits
                self._resumed.wait()
            if self._state == DOWN:
                _reset(client)
                return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._sockets.add(upstream)
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select(timeout=0.5):
                    with self._lock:
                        while self._state == HUNG:
                            self._resumed.wait()
                        if self._state == DOWN:
                            return
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                if self._state == DOWN or self._closed.is_set():
                    return
        except OSError:
            return
        finally:
            selector.close()
            for sock in (client, upstream):
                with self._lock:
                    self._sockets.discard(sock)
                _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), so the peer sees a reset, not a clean end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()
