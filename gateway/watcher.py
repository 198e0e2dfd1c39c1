"""Keeps a process's route table in step with the manifest file, within a poll interval.

Every gateway process (each uvicorn worker, each separate server) polls the file's
identity (inode, size, mtime) and reloads when it changes; writes are atomic renames, so
a reload sees the old file or the new one, never half. An invalid file does not take
effect: the last good table stays and the problem is kept for status and the log.

The table is the file's structure (routes, rules, limits) with the live state's owners
(gateway/live.py) over it once that exists: the LiveFollower hands them over with
set_states(), and each reload of the file keeps them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway import manifest as mf
from gateway.live import overlay
from gateway.table import RouteState, RouteTable

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
        manifest: mf.Manifest,
        check: Callable[[mf.Manifest, RouteTable], list[mf.Problem]],
        on_swap: Callable[[RouteTable, RouteTable], None],
        poll_s: float,
    ) -> None:
        self.path = path
        self.table = table
        self.problems: list[str] = []  # the file's, while it is invalid
        # Why the live state's last version is not served (its table failed the check).
        self.live_problems: list[str] = []
        self.manifest = manifest  # the last good file
        self.states: Mapping[str, RouteState] | None = None  # the live state's, if any
        # A file reload and a live state change may build tables at once (two threads).
        self._swap = threading.Lock()
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
        with self._swap:
            try:
                manifest = mf.load(self.path)
            except mf.ManifestError as exc:
                problems = [str(p) for p in exc.problems]
            else:
                return self._build(manifest, self.states, file=True)
            self._file_problems(problems)
            return False

    def set_states(self, states: Mapping[str, RouteState] | None) -> bool:
        """Serve by these live states (None: by the file alone) over the last good file;
        True when a new table was swapped in. Called off the loop (it compiles rules)."""
        with self._swap:
            return self._build(self.manifest, states, file=False)

    def _build(
        self, manifest: mf.Manifest, states: Mapping[str, RouteState] | None, *, file: bool
    ) -> bool:
        old = self.table
        new = RouteTable.from_manifest(manifest, old.generation + 1, old.default_limit, states)
        problems = [str(p) for p in self._check(overlay(manifest, states), new)]
        if problems:
            if file:
                self._file_problems(problems)
            else:
                if problems != self.live_problems:
                    log.error(
                        "the live state cannot be served, still serving the last good table:\n  %s",
                        "\n  ".join(problems),
                    )
                self.live_problems = problems
            return False
        if file:
            self.problems = []
            self.manifest = manifest
        self.states = states
        self.live_problems = []
        # A change of rate limits alone swaps the table too: limits follow the file.
        if new.states() == old.states() and new.limits() == old.limits():
            return False
        self.table = new
        self._on_swap(old, new)
        return True

    def _file_problems(self, problems: list[str]) -> None:
        if problems != self.problems:
            log.error(
                "manifest %s is invalid, still serving the last good one:\n  %s",
                self.path,
                "\n  ".join(problems),
            )
        self.problems = problems
