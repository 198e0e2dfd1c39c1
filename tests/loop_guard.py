"""Catch blocking calls made on a thread that runs an event loop.

CPython raises audit events for starting processes (except through asyncio's subprocess
transport, which waits without blocking), connecting sockets and opening SQLite files;
SQLAlchemy raises one per cursor execution; a sleep (which has no audit event before
Python 3.12) is seen by a profile hook on the threads started while armed. Each is
checked on the calling thread: with an event loop running there, a blocking call stalls
every request that loop serves. Async drivers (asyncmy, aiosqlite) do their IO off the
loop or without blocking, so their executions pass.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

_SLEEP = time.sleep
_ASYNCIO_SUBPROCESS = os.path.join("asyncio", "base_subprocess.py")
_armed = threading.Event()
_violations: list[str] = []
_installed = False


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _audit(name: str, args: tuple[Any, ...]) -> None:
    if not _armed.is_set() or not _on_loop_thread():
        return
    if name == "subprocess.Popen":
        if not _started_by_asyncio():
            _violations.append(f"subprocess on the event loop: {args[1]!r}")
    elif name == "sqlite3.connect":
        _violations.append("a sync sqlite3 connection opened on the event loop")
    elif (
        name == "socket.connect"
        and isinstance(args[0], socket.socket)
        and args[0].gettimeout() != 0.0  # blocking: requests, PyMySQL, ...
    ):
        _violations.append(f"blocking socket connect to {args[1]!r} on the event loop")


def _started_by_asyncio() -> bool:
    """asyncio.create_subprocess_exec starts its process with Popen too, then waits for it
    without blocking: the sanctioned way, so it passes."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(_ASYNCIO_SUBPROCESS):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _profile(_frame: Any, event_name: str, arg: Any) -> None:
    # The identity test first: this runs for every call on the profiled threads.
    if arg is _SLEEP and event_name == "c_call" and _armed.is_set() and _on_loop_thread():
        _violations.append("time.sleep on the event loop")


def _before_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if _armed.is_set() and _on_loop_thread() and not conn.dialect.is_async:
        _violations.append(
            f"sync engine ({conn.dialect.driver}) on the event loop: {statement[:60]}"
        )


def install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_audit)  # hooks cannot be removed; the flag arms and disarms it
        event.listen(Engine, "before_cursor_execute", _before_execute)
        _installed = True


@contextmanager
def guarding(*, sleeps: bool = True) -> Iterator[list[str]]:
    """Arm the guard; the list holds what was caught while armed.

    `sleeps=False` leaves out the profile hook, the one costly part (a Python call per
    function call on the watched threads): the long suites use it and leave sleeps to the
    parity run, which watches for everything.
    """
    install()
    _violations.clear()
    _armed.set()
    if sleeps:
        threading.setprofile(_profile)  # threads started from here on: the apps' loop threads
    try:
        yield _violations
    finally:
        threading.setprofile(None)
        _armed.clear()
