"""What building the FastAPI app costs in memory, and which packages hold it.

`python -m bench.imports [--top N]` builds `create_fastapi_app(Settings())` in a fresh
interpreter, with the settings of the calling environment (give it production's to see the
end state's), and prints its RSS, whether the packages it should not need were loaded, and
the packages that hold the most: the RSS each module's own execution added (its imports'
subtracted), summed per top-level package.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# Only what the end state should not need by default, to say at a glance if it is in.
WATCHED = ("flask", "werkzeug", "PIL", "celery", "kombu", "requests", "opentelemetry")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Metered(importlib.abc.MetaPathFinder):
    """Wraps every module's execution to record the RSS it added, less its imports'."""

    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # per module being executed: its imports' RSS

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _MeteredLoader(spec.loader, self)
                return spec
            if spec is not None:
                return spec
        return None

    def run(self, name: str, execute: Any) -> None:
        before = rss_mib()
        self._stack.append(0.0)
        try:
            execute()
        finally:
            inner = self._stack.pop()
            added = rss_mib() - before
            self.own[name.partition(".")[0]] += added - inner
            if self._stack:
                self._stack[-1] += added


class _MeteredLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, meter: _Metered) -> None:
        self._loader = loader
        self._meter = meter

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._meter.run(module.__name__, lambda: self._loader.exec_module(module))

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, get_filename, ...
        return getattr(self._loader, name)


def _build() -> None:
    """In the child: build the app under the meter, print what it found as JSON."""
    start = rss_mib()
    meter = _Metered()
    sys.meta_path.insert(0, meter)
    from fastapi_app import create_fastapi_app
    from shared.config import Settings

    create_fastapi_app(Settings())
    sys.meta_path.remove(meter)
    tops = sorted({name.partition(".")[0] for name in sys.modules})
    found = {"start": start, "built": rss_mib(), "modules": len(sys.modules), "tops": tops}
    print(json.dumps({**found, "own": meter.own}))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    done = subprocess.run(
        [sys.executable, "-c", "from bench.imports import _build; _build()"],
        capture_output=True,
        text=True,
        check=True,
    )
    built = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"RSS {built['start']:.1f} MiB at start, {built['built']:.1f} MiB after "
        f"create_fastapi_app(Settings()); {built['modules']} modules"
    )
    print("loaded:", ", ".join(f"{w} {'yes' if w in built['tops'] else 'no'}" for w in WATCHED))
    ranked = sorted(built["own"].items(), key=lambda share: -share[1])[: args.top]
    print(f"the {len(ranked)} packages whose modules added the most RSS (MiB):")
    for name, mib in ranked:
        print(f"  {mib:6.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
