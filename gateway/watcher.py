"""Keeps a process's route table in step with the manifest file, within a poll interval.

Every gateway process (each uvicorn worker, each separate server) polls the file's
identity (inode, size, mtime) and reloads when it changes; writes are atomic renames, so
a reload sees the old file or the new one, never half. An invalid file does not take
effect: the last good table stays and the problem is kept for status and the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway import manifest as mf
from gateway.table import RouteTable

log = logging.getLogger("figway.gateway")


@dataclass(frozen=True)
class _Stamp:
    inode: int
    size: int
    mtime_ns: int


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _Stamp(st.st_ino, st.st_size, st.st_mtime_ns)


class ManifestWatcher:
    def __init__(
        self,
        path: Path,
        table: RouteTable,
        *,
        check: Callable[[mf.Manifest], list[mf.Problem]],
        on_swap: Callable[[RouteTable, RouteTable], None],
        poll_s: float,
    ) -> None:
        self.path = path
        self.table = table
        self.problems: list[str] = []
        self._check = check
        self._on_swap = on_swap
        self._poll_s = poll_s
        self._stamp = _stamp(path)
        self._task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="manifest")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.refresh()
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("manifest reload failed")

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the file changed; True when a new table was swapped in."""
        stamp = _stamp(self.path)
        if not force and stamp == self._stamp:
            return False
        self._stamp = stamp
        # Parsing YAML takes milliseconds: off the event loop.
        return await asyncio.to_thread(self._reload)

    def _reload(self) -> bool:
        try:
            manifest = mf.load(self.path)
            problems = [str(p) for p in self._check(manifest)]
        except mf.ManifestError as exc:
            problems = [str(p) for p in exc.problems]
        if problems:
            if problems != self.problems:
                log.error(
                    "manifest %s is invalid, still serving the last good one:\n  %s",
                    self.path,
                    "\n  ".join(problems),
                )
            self.problems = problems
            return False
        self.problems = []
        old = self.table
        new = RouteTable.from_manifest(manifest, old.generation + 1, old.default_limit)
        # A change of rate limits alone swaps the table too: limits follow the file.
        if new.states() == old.states() and new.limits() == old.limits():
            return False
        self.table = new
        self._on_swap(old, new)
        return True
