"""Waiting on a condition in a test: a deadline, never a bare sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.02) -> T:
    """Poll until `predicate()` is truthy and return it; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: wait() is a pause that needs no time.sleep
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        pause.wait(interval)
