"""Database-bound: `GET /api/videos?limit=20` on 10,000 videos, owned by Flask and by the
FastAPI twin in alternating rounds through one gateway.

Each request runs two statements (the page of videos joined to their artists, and the
total count), so what is measured is how each side holds connections and turns rows into
JSON while the database answers, not how long one slow call waits.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import profile
from bench.harness import (
    WORKERS,
    Load,
    base_env,
    bench_database,
    cpu_s,
    create_user,
    figway,
    free_port,
    median,
    running,
    setting,
    token,
    tree_cpu_s,
    wait_owner,
    wrk,
)
from bench.report import Goal, Scenario, Side
from gateway import changes as ops

ROOT = Path(__file__).resolve().parent.parent
ROUTE = "GET /api/videos"
LIST = "/api/videos?limit=20"
# The variant: the same route and code, one artist's videos, so that the statements are
# cheap index lookups and the app sides' own costs decide.
ARTIST = 1
CHEAP = f"{LIST}&artist_id={ARTIST}"
VIDEOS = 10_000
VIDEOS_PER_ARTIST = 20
CONNECTIONS = 64
# The owners' plan: "Database Throughput: 3x improvement with async operations", and
# "API Response Times: 500ms -> 250ms average (50% improvement)".
THROUGHPUT_GOAL = 3.0
P50_GOAL = 0.5
OWNERS = ("flask", "fastapi")


@dataclass
class _Round:
    load: Load
    gateway_cpu_s: float
    database_cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return self.gateway_cpu_s * 1000 / max(1, self.load.requests)

    @property
    def database_ms_per_request(self) -> float:
        return self.database_cpu_s * 1000 / max(1, self.load.requests)


def database_bound(workdir: Path, quick: bool, pool_size: int | None = None) -> Scenario:
    """`pool_size`: FIGWAY_DB_POOL_SIZE for the run (the async pool per worker, and as much
    overflow again), to try a variant; the setting's default otherwise."""
    work = workdir / "database"
    work.mkdir(parents=True, exist_ok=True)
    with bench_database(work) as (url, database):
        return _database_bound(work, quick, url, database, pool_size)


def _database_bound(
    work: Path, quick: bool, database_url: str, database: str, pool_size: int | None
) -> Scenario:
    rounds, seconds = (1, 2.0) if quick else (3, 8.0)
    manifest = work / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    port = free_port()
    env = base_env(work, FIGWAY_MANIFEST=str(manifest), DATABASE_URL=database_url)
    if pool_size is not None:
        env["FIGWAY_DB_POOL_SIZE"] = str(pool_size)
    figway("db", "upgrade", env=env)
    create_user(database_url)
    seeded_s = seed_videos(database_url)
    statements = _statements(database_url)
    runs: dict[tuple[str, str], list[_Round]] = {
        (url, owner): [] for url in (LIST, CHEAP) for owner in OWNERS
    }
    profiles: list[str] = []
    server = _database_server(database_url)
    with running(
        [
            sys.executable,
            *("-m", "gateway.cli", "serve", "--port", str(port)),
            *("--workers", str(WORKERS)),
        ],
        env,
        port,
        work / "logs" / "gateway.log",
    ) as gw:
        auth = f"Authorization: Bearer {token(gw)}"

        def own(owner: str) -> None:
            ops.apply(manifest, ops.plan_flip(ROUTE, owner), twins=None)
            wait_owner(gw + LIST, auth, owner)

        if not quick:
            # Untimed, so that neither side's first round pays for opening its pool.
            for owner in OWNERS:
                own(owner)
                wrk(gw + LIST, connections=CONNECTIONS, seconds=2, headers=(auth,))
        for _ in range(rounds):
            for url in (LIST, CHEAP):
                for owner in OWNERS:
                    own(owner)
                    before = (tree_cpu_s(gw.pid), cpu_s(server) if server else 0.0)
                    load = wrk(gw + url, connections=CONNECTIONS, seconds=seconds, headers=(auth,))
                    after = (tree_cpu_s(gw.pid), cpu_s(server) if server else 0.0)
                    runs[url, owner].append(
                        _Round(load, after[0] - before[0], after[1] - before[1])
                    )
        results = {owner: runs[LIST, owner] for owner in OWNERS}
        per_s = {o: median([r.load.requests_per_s for r in results[o]]) for o in OWNERS}
        p50 = {o: median([r.load.p50_ms for r in results[o]]) for o in OWNERS}
        throughput = per_s["fastapi"] / max(per_s["flask"], 1e-9)
        latency = p50["fastapi"] / max(p50["flask"], 1e-9)
        met = throughput >= THROUGHPUT_GOAL and latency <= P50_GOAL
        if not quick and not met:
            slow = min(OWNERS, key=lambda o: per_s[o])
            own(slow)
            profiles.append(
                profile.under_load(
                    f"database-{slow}",
                    gw.pid,
                    gw + LIST,
                    connections=CONNECTIONS,
                    headers=(auth,),
                    what=f"the slower side ({slow})",
                )
            )
    threads = setting("legacy_threads")
    pool = setting("db_pool_size") if pool_size is None else pool_size
    cheap = {owner: runs[CHEAP, owner] for owner in OWNERS}
    cheap_per_s = {o: median([r.load.requests_per_s for r in cheap[o]]) for o in OWNERS}
    cheap_p50 = {o: median([r.load.p50_ms for r in cheap[o]]) for o in OWNERS}
    notes = [
        "rounds, req/s, flask: "
        + ", ".join(f"{r.load.requests_per_s:,.0f}" for r in results["flask"])
        + "; fastapi: "
        + ", ".join(f"{r.load.requests_per_s:,.0f}" for r in results["fastapi"]),
        "rounds, p50 ms, flask: "
        + ", ".join(f"{r.load.p50_ms:.2f}" for r in results["flask"])
        + "; fastapi: "
        + ", ".join(f"{r.load.p50_ms:.2f}" for r in results["fastapi"]),
        "gateway CPU per request (ms, all workers): flask "
        + ", ".join(f"{r.cpu_ms_per_request:.2f}" for r in results["flask"])
        + "; fastapi "
        + ", ".join(f"{r.cpu_ms_per_request:.2f}" for r in results["fastapi"])
        + "; gateway CPU in use (cores): flask "
        + ", ".join(f"{r.gateway_cpu_s / seconds:.2f}" for r in results["flask"])
        + "; fastapi "
        + ", ".join(f"{r.gateway_cpu_s / seconds:.2f}" for r in results["fastapi"]),
        f"seeding {VIDEOS:,} videos took {seeded_s:.1f} s",
        statements,
        f"variant, `?artist_id={ARTIST}` (cheap statements): throughput fastapi / flask "
        f"{cheap_per_s['fastapi'] / max(cheap_per_s['flask'], 1e-9):.2f}, p50 fastapi / "
        f"flask {cheap_p50['fastapi'] / max(cheap_p50['flask'], 1e-9):.2f}; rounds, req/s, "
        "flask: "
        + ", ".join(f"{r.load.requests_per_s:,.0f}" for r in cheap["flask"])
        + "; fastapi: "
        + ", ".join(f"{r.load.requests_per_s:,.0f}" for r in cheap["fastapi"])
        + "; gateway CPU per request (ms): flask "
        + ", ".join(f"{r.cpu_ms_per_request:.2f}" for r in cheap["flask"])
        + "; fastapi "
        + ", ".join(f"{r.cpu_ms_per_request:.2f}" for r in cheap["fastapi"]),
    ]
    if server:
        notes.insert(
            3,
            "database server CPU per request (ms; the whole server, so other clients of it "
            "count too): flask "
            + ", ".join(f"{r.database_ms_per_request:.2f}" for r in results["flask"])
            + "; fastapi "
            + ", ".join(f"{r.database_ms_per_request:.2f}" for r in results["fastapi"])
            + "; in use (cores): flask "
            + ", ".join(f"{r.database_cpu_s / seconds:.2f}" for r in results["flask"])
            + "; fastapi "
            + ", ".join(f"{r.database_cpu_s / seconds:.2f}" for r in results["fastapi"]),
        )
    notes += profiles
    return Scenario(
        "Database-bound: the videos list",
        f"`GET {LIST}` with a bearer token (auth level readonly) on {database} with "
        f"{VIDEOS:,} videos ({VIDEOS // VIDEOS_PER_ARTIST:,} artists), through `figway serve "
        f"--workers {WORKERS}`, wrk with {CONNECTIONS} connections; {rounds} alternating "
        f"round(s) of {seconds:g} s with the route owned by flask (a2wsgi, {threads} threads "
        f"per worker, each with its own pooled connection) and by fastapi (asyncmy, pool "
        f"{pool} + overflow {pool} per worker); "
        f"{'no warm-up' if quick else 'a 2 s untimed warm-up per side first'}. Two "
        "statements per request: the page (joined to the artists) and the total. The "
        "median round of each side is shown; ratios compare the medians. The goals are "
        f"the full list's; the variant, one artist's videos (`{CHEAP}`), runs in the same "
        "rounds, to show the sides when the statements are cheap.",
        sides=[
            Side(f"route owned by flask ({WORKERS} x {threads} threads)", _best(results["flask"])),
            Side("route owned by fastapi (the async twin)", _best(results["fastapi"])),
            Side(f"variant `?artist_id={ARTIST}`, owned by flask", _best(cheap["flask"])),
            Side(f"variant `?artist_id={ARTIST}`, owned by fastapi", _best(cheap["fastapi"])),
        ],
        goals=[
            Goal("throughput, fastapi / flask", throughput, THROUGHPUT_GOAL),
            Goal("p50 latency, fastapi / flask", latency, P50_GOAL, higher_is_better=False),
        ],
        notes=notes,
    )


def _statements(database_url: str, repeat: int = 20) -> str:
    """What the route's two statements cost the database alone: one connection, one at a
    time, no app in between; on MariaDB, with the plan EXPLAIN gives for the page."""
    from sqlalchemy import create_engine, text

    from shared.db.engine import is_sqlite, sync_url
    from shared.pagination import LimitOffset
    from shared.services.videos import VideoQuery, videos_page_stmt, videos_total_stmt

    page = LimitOffset.from_args({"limit": "20"})
    one_artist = VideoQuery(artist_id=ARTIST)
    statements = {
        "the page": videos_page_stmt(VideoQuery(), page),
        "the total": videos_total_stmt(VideoQuery()),
        "the variant's page": videos_page_stmt(one_artist, page),
        "the variant's total": videos_total_stmt(one_artist),
    }
    engine = create_engine(sync_url(database_url))
    timings: list[str] = []
    costs: dict[str, float] = {}
    plan = ""
    try:
        with engine.connect() as conn:
            for name, statement in statements.items():
                conn.execute(statement).all()
                started = time.perf_counter()
                for _ in range(repeat):
                    conn.execute(statement).all()
                ms = (time.perf_counter() - started) * 1000 / repeat
                timings.append(f"{name} {ms:.2f} ms")
                costs[name] = ms
            if not is_sqlite(database_url):
                sql = videos_page_stmt(VideoQuery(), page).compile(
                    engine, compile_kwargs={"literal_binds": True}
                )
                rows = conn.execute(text(f"EXPLAIN {sql}")).mappings().all()
                plan = "; EXPLAIN of the page: " + ", then ".join(
                    f"{row['table']} ({row['type']}, {row['rows']} rows"
                    + (f", {row['Extra']}" if row["Extra"] else "")
                    + ")"
                    for row in rows
                )
    finally:
        engine.dispose()
    full = costs["the page"] + costs["the total"]
    return (
        f"the statements alone, before the rounds (one connection, {repeat} runs each, "
        f"statistics fresh from ANALYZE): {', '.join(timings)} per run{plan}; at "
        f"{full:.1f} ms for the full list's two, all {WORKERS} cores given to the database "
        f"would run them about {WORKERS * 1000 / max(full, 1e-9):,.0f} times per second, "
        "whichever side asks"
    )


def _database_server(database_url: str) -> int | None:
    """The process id of the database server when it runs on this machine (its CPU counts
    against the same cores as the gateway's); None for SQLite or a remote server."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" or url.host not in ("127.0.0.1", "localhost"):
        return None
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("mariadbd", "mysqld"):
                return int(comm.parent.name)
        except OSError:
            continue
    return None


def _best(rounds: list[_Round]) -> Load:
    """The median round by throughput (its latencies come with it)."""
    target = median([r.load.requests_per_s for r in rounds])
    return min(rounds, key=lambda r: abs(r.load.requests_per_s - target)).load


def seed_videos(database_url: str) -> float:
    """VIDEOS videos over their artists, in a few multi-row inserts; seconds taken."""
    from sqlalchemy import create_engine, insert, text

    from shared.clock import utcnow
    from shared.db.engine import is_sqlite, sync_url
    from shared.db.models import VIDEO_STATUSES, Artist, Video

    started = time.perf_counter()
    now = utcnow()
    artists = VIDEOS // VIDEOS_PER_ARTIST
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Artist),
                [
                    {
                        "id": a,
                        "name": f"Bench Artist {a:04d}",
                        "monitored": True,
                        "genres": ["pop"],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for a in range(1, artists + 1)
                ],
            )
            conn.execute(
                insert(Video),
                [
                    {
                        "artist_id": 1 + v // VIDEOS_PER_ARTIST,
                        "title": f"Bench Video {v:05d}",
                        "url": f"https://videos.example/{v}",
                        "year": 1980 + v % 45,
                        "duration": 180 + v % 120,
                        "status": VIDEO_STATUSES[v % len(VIDEO_STATUSES)],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for v in range(VIDEOS)
                ],
            )
        if not is_sqlite(database_url):
            # Statistics as a live database would have them before the first round:
            # otherwise InnoDB recalculates them in the background when it sees fit, and
            # the plan (so the cost of every request) may change under the measurement.
            with engine.connect() as conn:
                conn.execute(text("ANALYZE TABLE artists, videos")).all()
    finally:
        engine.dispose()
    return time.perf_counter() - started
