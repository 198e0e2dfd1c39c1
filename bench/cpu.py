"""CPU per request: each twin against its Flask original and against the gateway's
hello-world route, in one gateway and one run.

CPU per request (all the gateway's processes, from /proc, over the requests wrk counted)
is the steadiest figure on a shared machine: throughput moves with whatever else runs,
the CPU a request costs much less. The routes: `GET /api/auth/me` (bearer), the metadata
search (the provider at 100 ms), the videos list on 10,000 videos, one playlist with its
entries, and a write (create a playlist, then delete it).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import profile
from bench.apps import Stack, served
from bench.database import seed_videos
from bench.harness import (
    QUERY,
    WORKERS,
    Load,
    bench_database,
    create_user,
    median,
    token,
    tree_cpu_s,
    wait_owner,
    wrk,
)
from bench.report import Goal, Scenario, Side
from gateway import changes as ops
from tests.polling import wait_for

CONNECTIONS = 64
LATENCY_MS = 100
PLAYLIST_ENTRIES = 20
OWNERS = ("flask", "fastapi")
HELLO = "/api/version"
# The goals: ratios of CPU per request within one run.
SEARCH_GOAL = 3.0  # the search twin, against hello world
ME_GOAL = 2.0  # GET /api/auth/me's twin, against hello world
VIDEOS_CPU_GOAL = round(1 / 3, 3)  # the videos list's twin, against its Flask original
VIDEOS_THROUGHPUT_GOAL = 3.0

# A create then a delete, alternating on each connection: a POST while no playlist it made
# waits, otherwise a DELETE of one. Names are unique per run, thread and request.
WRITE_SCRIPT = """
local prefix = "%(prefix)s"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
local made = {}
function request()
  local id = table.remove(made)
  if id then
    return wrk.format("DELETE", "/api/playlists/" .. id)
  end
  counter = counter + 1
  local name = prefix .. "-" .. tid .. "-" .. counter
  -- wrk.format takes these headers instead of wrk's own (-H): the token is copied in.
  local headers = {["Content-Type"] = "application/json"}
  for key, value in pairs(wrk.headers) do headers[key] = value end
  return wrk.format("POST", "/api/playlists", headers, '{"name":"' .. name .. '"}')
end
function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":(%%d+)')
    if id then table.insert(made, id) end
  end
end
"""


@dataclass(frozen=True)
class Case:
    """One row pair of the table: a route (or two, for the write) and how to load it."""

    name: str
    routes: tuple[str, ...]  # manifest keys flipped together
    url: str
    write: bool = False


@dataclass
class Round:
    load: Load
    cpu_s: float

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / max(1, self.load.requests)


def cpu_per_request(workdir: Path, quick: bool) -> Scenario:
    work = workdir / "cpu"
    work.mkdir(parents=True, exist_ok=True)
    with bench_database(work) as (url, database):
        return _cpu(work, quick, url, database)


def _cpu(work: Path, quick: bool, database_url: str, database: str) -> Scenario:
    rounds, seconds = (1, 1.0) if quick else (3, 5.0)
    with served(work, database_url, latency_ms=LATENCY_MS, workers=WORKERS) as (stack, _env):
        create_user(database_url)
        seed_videos(database_url)
        bearer = token(stack.gateway)
        auth = f"Authorization: Bearer {bearer}"
        playlist = _playlist(stack.gateway, bearer)
        cases = [
            Case("GET /api/auth/me", ("GET /api/auth/me",), "/api/auth/me"),
            Case(
                "GET /api/metadata/search",
                ("GET /api/metadata/search",),
                f"/api/metadata/search?q={QUERY}",
            ),
            Case("GET /api/videos?limit=20", ("GET /api/videos",), "/api/videos?limit=20"),
            Case(
                f"GET /api/playlists/<id> ({PLAYLIST_ENTRIES} entries)",
                ("GET /api/playlists/<int:playlist_id>",),
                f"/api/playlists/{playlist}",
            ),
            Case(
                "POST then DELETE /api/playlists/<id>",
                ("POST /api/playlists", "DELETE /api/playlists/<int:playlist_id>"),
                "/api/playlists",
                write=True,
            ),
        ]
        script = work / "write.lua"
        measured: dict[tuple[str, str], list[Round]] = {}

        def own(case: Case, owner: str) -> None:
            for route in case.routes:
                ops.apply(stack.manifest, ops.plan_flip(route, owner), twins=None)
            if case.write:
                _wait_write_owner(stack.gateway, bearer, owner)
            else:
                wait_owner(stack.gateway + case.url, auth, owner)

        def load(case: Case, key: tuple[str, str], headers: tuple[str, ...]) -> None:
            if case.write:
                script.write_text(WRITE_SCRIPT % {"prefix": f"bench-{key[1]}-{len(measured)}"})
            before = tree_cpu_s(stack.gateway_pid)
            result = wrk(
                stack.gateway + case.url,
                connections=CONNECTIONS,
                seconds=seconds,
                headers=headers,
                script=script if case.write else None,
            )
            spent = tree_cpu_s(stack.gateway_pid) - before
            if result.non_2xx * 2 > result.requests:
                # A figure of error answers measures nothing: stop (bench-smoke fails in CI).
                raise RuntimeError(
                    f"{case.name} ({key[1]}): {result.non_2xx} of "
                    f"{result.requests} answers were not 2xx"
                )
            measured.setdefault(key, []).append(Round(result, spent))

        hello = Case(f"GET {HELLO} (hello world)", (), HELLO)
        if not quick:
            # Untimed: no side's first round pays for opening its pools.
            for case in cases[:3]:
                for owner in OWNERS:
                    own(case, owner)
                    url = stack.gateway + case.url
                    wrk(url, connections=CONNECTIONS, seconds=2, headers=(auth,))
        for _ in range(rounds):
            load(hello, (hello.name, "fastapi"), ())
            for case in cases:
                for owner in OWNERS:
                    own(case, owner)
                    load(case, (case.name, owner), (auth,))
        figures = {key: _median(found) for key, found in measured.items()}
        goals = _goals(figures, hello.name)
        profiles = [] if quick else _profiles(stack, auth, cases, goals)
    return _report(rounds, seconds, database, hello.name, cases, figures, measured, goals, profiles)


def _median(rounds: list[Round]) -> Round:
    """The round with the median CPU per request (its other figures come with it)."""
    target = median([r.cpu_ms for r in rounds])
    return min(rounds, key=lambda r: abs(r.cpu_ms - target))


def _goals(figures: dict[tuple[str, str], Round], hello: str) -> list[Goal]:
    hello_ms = max(figures[hello, "fastapi"].cpu_ms, 1e-9)

    def twin(name: str) -> Round:
        return figures[name, "fastapi"]

    videos = "GET /api/videos?limit=20"
    flask_videos = figures[videos, "flask"]
    return [
        Goal(
            "search twin CPU per request / hello world's",
            twin("GET /api/metadata/search").cpu_ms / hello_ms,
            SEARCH_GOAL,
            higher_is_better=False,
        ),
        Goal(
            "auth/me twin CPU per request / hello world's",
            twin("GET /api/auth/me").cpu_ms / hello_ms,
            ME_GOAL,
            higher_is_better=False,
        ),
        Goal(
            "videos list twin CPU per request / flask's",
            twin(videos).cpu_ms / max(flask_videos.cpu_ms, 1e-9),
            VIDEOS_CPU_GOAL,
            higher_is_better=False,
        ),
        Goal(
            f"videos list twin req/s / flask's at {CONNECTIONS} connections",
            twin(videos).load.requests_per_s / max(flask_videos.load.requests_per_s, 1e-9),
            VIDEOS_THROUGHPUT_GOAL,
        ),
    ]


# Which case each goal is about, in _goals' order: its twin is the side profiled.
_GOAL_CASES = (1, 0, 2, 2)


def _profiles(stack: Stack, auth: str, cases: list[Case], goals: list[Goal]) -> list[str]:
    notes = []
    done: set[int] = set()
    for goal, index in zip(goals, _GOAL_CASES, strict=True):
        if goal.met or index in done:
            continue
        done.add(index)
        case = cases[index]
        for route in case.routes:
            ops.apply(stack.manifest, ops.plan_flip(route, "fastapi"), twins=None)
        wait_owner(stack.gateway + case.url, auth, "fastapi")
        slug = re.sub(r"[^a-z]+", "-", case.routes[0].lower().split("/", 2)[2]).strip("-")
        notes.append(
            profile.under_load(
                f"cpu-{slug}-fastapi",
                stack.gateway_pid,
                stack.gateway + case.url,
                connections=CONNECTIONS,
                headers=(auth,),
                what=f"the {case.name} twin",
            )
        )
    return notes


def _report(
    rounds: int,
    seconds: float,
    database: str,
    hello: str,
    cases: list[Case],
    figures: dict[tuple[str, str], Round],
    measured: dict[tuple[str, str], list[Round]],
    goals: list[Goal],
    profiles: list[str],
) -> Scenario:
    hello_ms = max(figures[hello, "fastapi"].cpu_ms, 1e-9)

    def side(name: str, owner: str, label: str) -> Side:
        found = figures[name, owner]
        flask = figures.get((name, "flask"))
        versus = "-" if flask is None or owner == "flask" else f"{found.cpu_ms / flask.cpu_ms:.2f}"
        return Side(
            label,
            found.load,
            (f"{found.cpu_ms:.3f}", f"{found.cpu_ms / hello_ms:.1f}x", versus),
        )

    sides = [side(hello, "fastapi", f"{hello}, owned by fastapi")]
    for case in cases:
        sides += [side(case.name, owner, f"{case.name}, owned by {owner}") for owner in OWNERS]
    notes = [
        "rounds, CPU ms per request: "
        + "; ".join(
            f"{name} {owner} " + ", ".join(f"{r.cpu_ms:.3f}" for r in found)
            for (name, owner), found in measured.items()
        ),
        "the write row counts the POSTs and the DELETEs each as a request (one create and "
        "one delete cost twice its figure); the search rows wait on the provider at "
        f"{LATENCY_MS} ms, so their req/s is bound by {CONNECTIONS} connections / "
        f"{LATENCY_MS} ms = {CONNECTIONS * 1000 // LATENCY_MS:,} req/s, and by the legacy "
        "threads on the flask side",
        *profiles,
    ]
    return Scenario(
        "CPU per request: the twins against Flask and hello world",
        f"Each route owned by flask, then by fastapi, through one gateway (`figway serve "
        f"--workers {WORKERS}` with one bench route more, {database} with 10,000 videos), "
        f"wrk with {CONNECTIONS} connections and a bearer token, {rounds} round(s) of "
        f"{seconds:g} s; the fake provider at {LATENCY_MS} ms in its own process. CPU per "
        "request is the CPU time of all the gateway's processes (from /proc) over the "
        f"requests wrk counted; the round with the median is shown. `GET {HELLO}` owned by "
        "fastapi is the hello-world route: no database, no provider. Columns after the "
        "errors: CPU per request, as a multiple of hello world's, and the twin's against "
        "its Flask original.",
        sides=sides,
        goals=goals,
        notes=notes,
        extra_columns=("CPU ms/req", "x hello world", "twin / flask CPU"),
    )


def _playlist(gateway: str, bearer: str) -> int:
    """A playlist of the bench user with PLAYLIST_ENTRIES videos; its id."""
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=15) as client:
        made = client.post("/api/playlists", json={"name": "bench playlist", "is_public": True})
        made.raise_for_status()
        playlist = made.json()["id"]
        assert isinstance(playlist, int)
        for video in range(1, PLAYLIST_ENTRIES + 1):
            added = client.post(f"/api/playlists/{playlist}/videos", json={"video_id": video})
            added.raise_for_status()
    return playlist


_WAITS = itertools.count()


def _wait_write_owner(gateway: str, bearer: str, owner: str) -> None:
    """Until a create and a delete both say `owner` served them."""
    headers = {"Authorization": f"Bearer {bearer}"}

    def served() -> bool:
        name = f"bench wait {next(_WAITS)}"
        with httpx.Client(base_url=gateway, headers=headers, timeout=15) as client:
            made = client.post("/api/playlists", json={"name": name})
            if made.status_code != 201:
                return False
            gone = client.delete(f"/api/playlists/{made.json()['id']}")
            return all(r.headers.get("x-served-by") == owner for r in (made, gone))

    wait_for(served, timeout=15, interval=0.05)
