"""migration_status.yaml: which side serves each legacy route, validated, edited in place.

The file is for people first: comments and order survive every edit (ruamel round-trip),
every error names the file, the line and the entry, and a write is atomic (a temp file
renamed over the old one) under a lock, so readers never see half a manifest.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from gateway.gates import DEFAULTS as DEFAULT_GATES
from gateway.gates import Gates, parse_gates
from gateway.ratelimit import check_limits
from gateway.rules import check_rule
from shared.auth.roles import AUTH_LEVELS

Owner = Literal["flask", "fastapi"]
OWNERS: tuple[str, ...] = ("flask", "fastapi")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "SOCKETIO")
# Not an HTTP method: `SOCKETIO /socket.io/` is a Socket.IO server's whole path (its
# polling GETs and POSTs and its WebSocket), owned as one, its sessions kept on the side
# that opened them (gateway/channels.py).
CHANNEL = "SOCKETIO"
_ROUTE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>/\S*)$")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based
    entry: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.entry}: {self.message}" if self.entry else f"{where}: {self.message}"
        )


class ManifestError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Phase:
    number: int
    name: str
    milestone: str


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    phase: int
    owner: str
    auth: str
    notes: str
    line: int
    # The rate limit as written: a rate ("60/minute"), a group under `limits`, or "none";
    # None when the entry has none (the default then applies). See gateway/ratelimit.py.
    limit: str | None = None
    # The auto-rollback gates (gateway/gates.py): the entry's own over the manifest's,
    # resolved; None when neither watches it (`gates: none`).
    gates: Gates | None = DEFAULT_GATES

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Manifest:
    path: Path
    phases: tuple[Phase, ...]
    entries: tuple[Entry, ...]
    routes_line: int = 1
    by_key: Mapping[str, Entry] = field(default_factory=dict, compare=False)
    # Named rate limits (`limits:` at the top), shared by the routes that name them.
    limits: Mapping[str, str] = field(default_factory=dict)
    # The gates of routes that declare none (`gates:` at the top; DEFAULT_GATES when the
    # file says nothing; None for `gates: none`).
    gates: Gates | None = DEFAULT_GATES

    def entry(self, key: str) -> Entry | None:
        return self.by_key.get(normalize_key(key))

    def in_phase(self, number: int) -> list[Entry]:
        return [e for e in self.entries if e.phase == number]


def normalize_key(key: str) -> str:
    """'get  /api/x' -> 'GET /api/x': what people type on a command line."""
    method, _, path = key.strip().partition(" ")
    return f"{method.upper()} {path.strip()}"


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps comments, order and quoting
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _line(node: Any, key: str | None = None) -> int | None:
    try:
        if key is not None:
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def parse(text: str, path: Path) -> Manifest:
    """Parse and check the file on its own terms; ManifestError lists every problem."""
    name = str(path)
    try:
        doc = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ManifestError([Problem(name, line, None, f"not valid YAML: {exc.problem}")]) from exc
    if not isinstance(doc, CommentedMap):
        raise ManifestError([Problem(name, 1, None, "expected a mapping with phases and routes")])
    problems: list[Problem] = []
    phases = _phases(doc, name, problems)
    top_gates: Gates | None = DEFAULT_GATES
    if "gates" in doc:
        top_gates, gate_problems = parse_gates(doc["gates"], DEFAULT_GATES)
        problems += [Problem(name, _line(doc, "gates"), None, m) for m in gate_problems]
    entries = _entries(doc, name, {p.number for p in phases}, problems, top_gates)
    groups, limit_problems = check_limits(doc.get("limits"), {e.key: e.limit for e in entries})
    lines = {e.key: e.line for e in entries}
    for route, message in limit_problems:
        line = lines.get(route) if route else _line(doc, "limits")
        problems.append(Problem(name, line, route, message))
    if problems:
        raise ManifestError(problems)
    return Manifest(
        path=path,
        phases=tuple(phases),
        entries=tuple(entries),
        routes_line=_line(doc, "routes") or 1,
        by_key={e.key: e for e in entries},
        limits=groups,
        gates=top_gates,
    )


def _phases(doc: CommentedMap, name: str, problems: list[Problem]) -> list[Phase]:
    raw = doc.get("phases")
    if not isinstance(raw, CommentedSeq):
        problems.append(Problem(name, _line(doc, "phases") or 1, None, "phases: expected a list"))
        return []
    phases: list[Phase] = []
    for item in raw:
        line = _line(item)
        if not isinstance(item, CommentedMap) or not isinstance(item.get("number"), int):
            problems.append(Problem(name, line, None, "a phase needs a whole number"))
            continue
        phases.append(
            Phase(item["number"], str(item.get("name", "")), str(item.get("milestone", "")))
        )
    return phases


def _entries(
    doc: CommentedMap,
    name: str,
    phase_numbers: set[int],
    problems: list[Problem],
    top_gates: Gates | None,
) -> list[Entry]:
    raw = doc.get("routes")
    if not isinstance(raw, CommentedSeq):
        problems.append(Problem(name, _line(doc, "routes") or 1, None, "routes: expected a list"))
        return []
    entries: list[Entry] = []
    seen: dict[str, int | None] = {}
    for item in raw:
        line = _line(item)
        if not isinstance(item, CommentedMap):
            problems.append(Problem(name, line, None, "a route entry must be a mapping"))
            continue
        route = str(item.get("route", ""))
        match = _ROUTE.match(route)
        if match is None or match["method"] not in METHODS:
            problems.append(
                Problem(
                    name,
                    line,
                    route or None,
                    "route must be 'METHOD /path' (GET, POST, PUT, PATCH, DELETE), "
                    "or 'SOCKETIO /path/' for a Socket.IO server",
                )
            )
            continue
        entry_problems = _check_fields(item, phase_numbers)
        if match["method"] == CHANNEL and not match["path"].endswith("/"):
            entry_problems.append("a Socket.IO path is a prefix: end it with '/'")
        elif match["method"] != CHANNEL and (rule_problem := check_rule(match["path"])):
            # Refused here, not when the gateway routes: the table must compile every rule.
            entry_problems.append(rule_problem)
        gates = top_gates
        if "gates" in item:
            if match["method"] == CHANNEL:
                # A channel's sessions follow its owner; nothing here counts them.
                entry_problems.append("gates: a Socket.IO channel is never rolled back on its own")
            else:
                # Over the top's; over the defaults when the top says `none`.
                gates, gate_problems = parse_gates(item["gates"], top_gates or DEFAULT_GATES)
                entry_problems += gate_problems
        elif match["method"] == CHANNEL:
            gates = None
        problems += [Problem(name, line, route, msg) for msg in entry_problems]
        if route in seen:
            problems.append(
                Problem(name, line, route, f"duplicate route (first at line {seen[route]})")
            )
            continue
        seen[route] = line
        if entry_problems:
            continue
        entries.append(
            Entry(
                match["method"],
                match["path"],
                item["phase"],
                item["owner"],
                item["auth"],
                str(item.get("notes") or ""),
                line or 0,
                None if item.get("limit") is None else str(item["limit"]),
                gates,
            )
        )
    return entries


def _check_fields(item: CommentedMap, phase_numbers: set[int]) -> list[str]:
    problems = []
    if not isinstance(item.get("phase"), int) or item["phase"] not in phase_numbers:
        problems.append(
            f"unknown phase {item.get('phase')!r} (phases: "
            f"{', '.join(str(n) for n in sorted(phase_numbers))})"
        )
    if item.get("owner") not in OWNERS:
        problems.append(f"unknown owner {item.get('owner')!r} (flask or fastapi)")
    if item.get("auth") not in AUTH_LEVELS:
        problems.append(f"unknown auth level {item.get('auth')!r} ({', '.join(AUTH_LEVELS)})")
    return problems


def load(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            [Problem(str(path), None, None, f"cannot read: {exc.strerror}")]
        ) from exc
    return parse(text, path)


def check_routes(
    manifest: Manifest,
    legacy_routes: Iterable[str] | None,
    modern_routes: Iterable[str] | None,
) -> list[Problem]:
    """The manifest against the two apps: every legacy route once, a twin for each fastapi."""
    name = str(manifest.path)
    problems: list[Problem] = []
    if legacy_routes is not None:
        legacy = set(legacy_routes)
        for entry in manifest.entries:
            if entry.key not in legacy:
                problems.append(
                    Problem(name, entry.line, entry.key, "the legacy app has no such route")
                )
        for key in sorted(legacy - set(manifest.by_key)):
            problems.append(
                Problem(name, manifest.routes_line, key, "legacy route missing from the manifest")
            )
    if modern_routes is not None:
        modern = {twin_key(k) for k in modern_routes}
        for entry in manifest.entries:
            if entry.owner == "fastapi" and twin_key(entry.key) not in modern:
                problems.append(
                    Problem(
                        name,
                        entry.line,
                        entry.key,
                        "owned by fastapi but the FastAPI app has no twin",
                    )
                )
    return problems


_FLASK_VAR = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?(?P<name>\w+)>")
_STARLETTE_VAR = re.compile(r"\{(?P<name>\w+)(?::\w+)?\}")


def twin_key(key: str) -> str:
    """'GET /a/<int:x>' and 'GET /a/{x}' both become 'GET /a/{x}': the same route."""
    key = _FLASK_VAR.sub(lambda m: "{" + m["name"] + "}", key)
    return _STARLETTE_VAR.sub(lambda m: "{" + m["name"] + "}", key)


# --- editing ---------------------------------------------------------------------------


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write between the CLI, the admin API and other processes."""
    lock_path = path.with_name(f".{path.name}.lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def set_owners(path: Path, owners: Mapping[str, str]) -> Manifest:
    """Rewrite the owner of each route in `owners`; call inside `locked(path)`."""
    yaml = _yaml()
    doc = yaml.load(path.read_text(encoding="utf-8"))
    wanted = {normalize_key(k): v for k, v in owners.items()}
    for item in doc["routes"]:
        key = normalize_key(str(item.get("route", "")))
        if key in wanted:
            item["owner"] = wanted[key]
    out = StringIO()
    yaml.dump(doc, out)
    text = out.getvalue()
    manifest = parse(text, path)  # never write a file that would not load
    atomic_write(path, text.encode("utf-8"))
    return manifest


def atomic_write(path: Path, content: bytes) -> None:
    """Write `path` so that readers (every gateway's watcher) never see half a file: a
    temporary file beside it, flushed to disk, then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def status(manifest: Manifest) -> list[dict[str, Any]]:
    """Per phase: routes, owner counts, percent migrated (the `figway status` table)."""
    rows = []
    for phase in manifest.phases:
        entries = manifest.in_phase(phase.number)
        fastapi = sum(1 for e in entries if e.owner == "fastapi")
        rows.append(
            {
                "phase": phase.number,
                "name": phase.name,
                "milestone": phase.milestone,
                "routes": len(entries),
                "flask": len(entries) - fastapi,
                "fastapi": fastapi,
                "percent": round(100 * fastapi / len(entries), 1) if entries else 0.0,
            }
        )
    return rows
