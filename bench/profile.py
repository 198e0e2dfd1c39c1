"""A py-spy profile of a server under load, for the scenarios whose goal is missed: a
flame graph beside the results, and a one-line summary of where the samples end."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.harness import require_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SECONDS = 5

# Innermost frames where a thread is parked, not working: a pool's worker waiting for a
# job, a condition wait, uvicorn's supervisor listening to its workers. py-spy leaves idle
# threads out only when the OS says they sleep; on a busy machine some are still counted.
PARKED = {
    ("_worker", "concurrent/futures/thread.py"),
    ("Condition.wait", "threading.py"),
    ("Connection._recv", "multiprocessing/connection.py"),
}


def under_load(
    name: str,
    pid: int,
    url: str,
    *,
    connections: int,
    headers: Sequence[str] = (),
    what: str,
) -> str:
    """Profile the process tree `pid` (all workers) for SECONDS while wrk loads `url`;
    writes bench/results/<name>.svg. Returns the note for the report: where the graph is
    and what it shows, or why there is none (py-spy missing or not allowed to attach)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return f"no profile: py-spy is not installed next to {Path(sys.executable).name}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    svg = RESULTS / f"{name}.svg"
    raw = svg.with_suffix(".raw.txt")
    # Long enough to cover both recordings: the flame graph, then the raw stacks for the
    # summary below (py-spy writes one format per recording).
    seconds = 2 * SECONDS + 3
    command = [require_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    load = subprocess.Popen([*command, url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)  # let wrk open its connections first
        recordings = ((svg, "flamegraph"), (raw, "raw"))
        failures = [_record(spy, pid, path, fmt) for path, fmt in recordings]
    finally:
        load.terminate()
        load.wait()
    if failures[0]:
        return f"no profile of {what}: py-spy failed: {failures[0]}"
    # The processes' command lines name this checkout; the results name nothing local.
    svg.write_text(svg.read_text().replace(f"{ROOT}/", ""))
    summary = summarize(raw) if not failures[1] else f"(no summary: {failures[1]})"
    raw.unlink(missing_ok=True)
    return (
        f"profile of {what}, {SECONDS} s under the same load, all workers: "
        f"bench/results/{svg.name}; where its samples end (self time), {summary}"
    )


def _record(spy: Path, pid: int, out: Path, fmt: str) -> str:
    """Record one profile; the empty string, or why it failed."""
    done = subprocess.run(
        [
            str(spy),
            *("record", "-d", str(SECONDS), "-o", str(out), "--format", fmt),
            *("--pid", str(pid), "--subprocesses", "--nonblocking"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=SECONDS + 60,
    )
    if done.returncode != 0 or not out.exists():
        return (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return ""


# A Python frame as py-spy writes it, `function (path:line)`, innermost last in a stack.
_PYTHON_FRAME = re.compile(r"(?:^|;)([^;]+ \([^;()]+:\d+\))$")
NATIVE = "(no Python frame)"


def summarize(raw: Path, count: int = 5) -> str:
    """Where the samples end (the innermost frame), by package and by function, from
    py-spy's raw format: one `frame;frame;...;frame samples` line per distinct stack."""
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = parked = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        innermost = _PYTHON_FRAME.search(stack)
        if innermost is None:
            # Only the process's own frame (its command line, which may hold a ';'): the
            # process was sampled outside Python code, e.g. a uvicorn worker starting.
            total += int(samples)
            packages[NATIVE] += int(samples)
            functions[NATIVE] += int(samples)
            continue
        name, path = _frame(innermost[1])
        if (name, path) in PARKED:
            parked += int(samples)
            continue
        total += int(samples)
        # uvloop's C code (sockets, callbacks) shows as the Python frame that entered it.
        package = "uvloop" if name == "Runner.run" else path.split("/", 1)[0].removesuffix(".py")
        packages[package] += int(samples)
        functions[f"{name} ({path})"] += int(samples)
    if not total:
        return "no samples"

    def shares(counter: Counter[str]) -> str:
        return ", ".join(f"{k} {n * 100 / total:.0f}%" for k, n in counter.most_common(count))

    return (
        f"by package: {shares(packages)}; by function: {shares(functions)} "
        f"({total} working samples; {parked} of threads parked in a wait left out)"
    )


def _frame(frame: str) -> tuple[str, str]:
    """`execute (sqlalchemy/engine/base.py:1415)` -> the function and its file, without the
    line, so that one function's lines add up."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].removesuffix(")")
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    return name, path.removeprefix(f"{ROOT}/")
