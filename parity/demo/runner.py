"""The demo app's runner: each scenario against Flask and FastAPI, each on its own fresh,
identically seeded database, and compare what they answer and what they leave behind."""

from __future__ import annotations

import io
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import Engine, create_engine, exists, literal, select, text, union_all
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from fastapi_app import create_fastapi_app
from fastapi_app.state import Modern
from gateway.manifest import twin_key
from legacy_flask import create_app
from legacy_flask.blueprints.downloads import RUNNER_PART as DOWNLOAD_THREADS
from parity.compare import Answer, first_difference
from parity.demo.scenario import PASSWORD, Scenario
from parity.runner import Outcome
from shared.auth.passwords import hash_password
from shared.auth.session_cookie import SessionCookieCodec
from shared.auth.tokens import issue_token
from shared.clock import utcnow
from shared.config import Settings
from shared.db.base import Base
from shared.db.engine import sync_url
from shared.db.models import ROLES, User, UserSession
from shared.db.scratch import scratch_database
from shared.fakes.metadata_provider import create_provider_app
from shared.fakes.serving import serve
from shared.services.auth import hash_token
from shared.validation import describe
from shared.web.methods import flat_routes

SEEDED_AT = datetime(2025, 1, 1, tzinfo=UTC)
# How long a scenario's background downloads may take to end on each side.
SETTLE_S = 30.0
# A fixed boundary: the multipart body is the same bytes on every run and both sides.
MULTIPART_BOUNDARY = "figway-parity-boundary"
MULTIPART = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
# Hashed once per run, so both databases hold the very same row (a cheap cost: test data).
PASSWORD_HASH = hash_password(PASSWORD, n=16)


# Both test clients present the same caller: the session rows record address and agent.
SIDES = ("flask", "fastapi")
CLIENT_ADDRESS = "127.0.0.1"
USER_AGENT = "figway-parity"


def run(
    scenarios: list[Scenario],
    database_url: str | None = None,
    *,
    on_outcome: Callable[[Outcome[Scenario]], None] | None = None,
    databases: Databases | None = None,
) -> list[Outcome[Scenario]]:
    """`database_url`: a MariaDB server to create the databases on; SQLite files if None.
    `on_outcome` is told each scenario's outcome as soon as it is known (progress).
    `databases`: `Databases(database_url)`, entered and kept by a caller that runs several
    times (the test suite, a route at a time): on MariaDB, making the two databases and
    their schema costs seconds, and every scenario empties them first anyway.

    Both sides talk to the same fake metadata provider, served for real on a loopback port
    (or, for a scenario with provider="down", to a port where nobody listens).
    """
    if databases is not None and databases.server_url != database_url:
        raise ValueError("databases were made for another server than database_url")
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="figway-parity-"))
        if databases is None:
            databases = stack.enter_context(Databases(database_url))
        provider = stack.enter_context(serve(create_provider_app()))
        down = stack.enter_context(_refused_url())
        providers = {"up": provider, "down": down}
        outcomes = []
        for i, s in enumerate(scenarios):
            outcome = _run_one(s, Path(tmp) / str(i), databases, providers[s.provider])
            if on_outcome is not None:
                on_outcome(outcome)
            outcomes.append(outcome)
        return outcomes


class Databases:
    """An empty database per side for each scenario, made cheaply (the schema's DDL is most
    of a scenario's cost otherwise): SQLite files copied from one template; on MariaDB two
    databases made once and emptied before each scenario (TRUNCATE restarts the ids, so
    every scenario sees the same ids on both sides)."""

    def __init__(self, server_url: str | None) -> None:
        self.server_url = server_url
        self._stack = ExitStack()
        self._engines: dict[str, Engine] = {}
        self._template = Path()

    def __enter__(self) -> Databases:
        if self.server_url is None:
            tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="figway-parity-"))
            self._template = Path(tmp) / "template.db"
            engine = create_engine(f"sqlite:///{self._template}")
            Base.metadata.create_all(engine)
            engine.dispose()
            return self
        for side in SIDES:
            url = self._stack.enter_context(scratch_database(self.server_url, "figway_parity"))
            engine = create_engine(sync_url(url))
            self._stack.callback(engine.dispose)
            Base.metadata.create_all(engine)
            self._engines[side] = engine
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @contextmanager
    def fresh(self, side: str, workdir: Path) -> Iterator[tuple[str, Engine]]:
        """The side's empty database: its URL, and an engine for the harness's own reads
        and writes (seeding, the rows left behind)."""
        workdir.mkdir(parents=True, exist_ok=True)
        if self.server_url is None:
            path = workdir / "parity.db"
            shutil.copyfile(self._template, path)
            engine = create_engine(f"sqlite:///{path}")
            try:
                yield str(engine.url), engine
            finally:
                engine.dispose()
            return
        engine = self._engines[side]
        _empty(engine)
        yield engine.url.render_as_string(hide_password=False), engine


def _empty(engine: Engine) -> None:
    """TRUNCATE (it restarts the ids) the tables a scenario touched: those with rows or a
    moved AUTO_INCREMENT. MariaDB reads AUTO_INCREMENT live for information_schema."""
    tables = Base.metadata.sorted_tables
    with engine.begin() as conn:
        probe = union_all(*(select(literal(t.name)).where(exists().select_from(t)) for t in tables))
        has_rows = conn.execute(probe).scalars()
        moved = conn.execute(
            text(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT > 1"
            )
        ).scalars()
        dirty = set(has_rows) | set(moved)
        if dirty:
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for table in tables:
                if table.name in dirty:
                    conn.execute(text(f"TRUNCATE TABLE `{table.name}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


@contextmanager
def _refused_url() -> Iterator[str]:
    """A loopback port of ours that nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _run_one(
    scenario: Scenario, workdir: Path, databases: Databases, provider_url: str
) -> Outcome[Scenario]:
    answers: dict[str, Answer] = {}
    now = utcnow()  # one clock reading for both seeds: identical rows on both sides
    for side in SIDES:
        with databases.fresh(side, workdir / side) as (url, engine):
            settings = _settings(workdir / side, url, provider_url)
            token = _seed(engine, scenario, now)
            _place_media(settings, scenario)
            headers = {"User-Agent": USER_AGENT, **scenario.headers}
            if scenario.role is not None:
                headers.update(_credentials(settings, engine, scenario, token))
            answers[side] = _call(side, settings, scenario, headers, engine)
    difference = first_difference(
        answers["flask"], answers["fastapi"], scenario.volatile, scenario.compared_headers
    )
    return Outcome(scenario, difference or undocumented(scenario, answers["flask"]))


def undocumented(scenario: Scenario, answer: Answer) -> str | None:
    """Why a successful JSON answer does not fit the model the twin documents in /docs."""
    if not 200 <= answer.status < 300 or "json" not in answer.headers.get("content-type", ""):
        return None
    model = _documented_models().get((twin_key(scenario.route), answer.status))
    if model is None:
        return f"{answer.status} is not documented with a model in /docs"
    try:
        model.model_validate_json(answer.body)
    except ValidationError as exc:
        return f"answer does not fit {model.__name__} in /docs: {describe(exc)}"
    return None


@cache
def _documented_models() -> dict[tuple[str, int], type[BaseModel]]:
    app = create_fastapi_app(_settings(Path(tempfile.gettempdir()), "sqlite://"))
    found: dict[tuple[str, int], type[BaseModel]] = {}
    for route in flat_routes(app.routes):
        for method in getattr(route, "methods", None) or ():
            for status, entry in (getattr(route, "responses", None) or {}).items():
                if isinstance(entry.get("model"), type):
                    found[(twin_key(f"{method} {route.path}"), int(status))] = entry["model"]
    return found


def _settings(workdir: Path, url: str, provider_url: str = "http://127.0.0.1:9") -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=workdir / "var",
        database_url=url,
        secret_key=SecretStr("parity-secret-key-0123456789abcdef"),
        media_root=workdir / "media",
        log_file=workdir / "var" / "figway.log",
        metadata_base_url=provider_url,
        redis_url=None,  # the twin's downloads run embedded, as Flask's do: in threads
        download_retry_delay_s=0.0,
        # No reaper pass during a run: it is background work the Flask side lacks, and a
        # pass landing mid-scenario would fail or re-send the arranged rows (stamped at a
        # fixed past time) on the twin's side only.
        download_reaper_interval_s=24 * 3600.0,
    )


def _seed(engine: Engine, scenario: Scenario, now: datetime) -> str:
    """One user per role and a live session for the scenario's role; the same rows on
    both sides (fixed times, fixed hash, fixed token)."""
    token = f"parity-session-{scenario.role or 'none'}"
    with Session(engine) as session, session.begin():
        for role in ROLES:
            session.add(
                User(
                    username=f"parity_{role}",
                    role=role,
                    preferences={},
                    password_hash=PASSWORD_HASH,
                    created_at=SEEDED_AT,
                )
            )
        session.flush()
        if scenario.role is not None:
            user_id = session.scalar(select(User.id).where(User.role == scenario.role))
            assert user_id is not None
            # Seen just now: neither side refreshes last_seen_at during the request.
            session.add(
                UserSession(
                    user_id=user_id,
                    token_hash=hash_token(token),
                    created_at=SEEDED_AT,
                    last_seen_at=now,
                    expires_at=now + timedelta(days=1),
                )
            )
        if scenario.arrange is not None:
            session.flush()
            scenario.arrange(session, now)
    return token


def _place_media(settings: Settings, scenario: Scenario) -> None:
    """The scenario's files, written under the side's own media dir."""
    if scenario.media is None:
        return
    for relative, data in scenario.media().items():
        target = settings.media_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _credentials(
    settings: Settings, engine: Engine, scenario: Scenario, token: str
) -> dict[str, str]:
    if scenario.auth == "bearer":
        with Session(engine) as session:
            user = session.scalars(select(User).where(User.role == scenario.role)).one()
            jwt = issue_token(settings, user.id, user.role)["access_token"]
        return {"Authorization": f"Bearer {jwt}"}
    cookie = SessionCookieCodec(settings).dumps({"_permanent": True, "sid": token})
    return {"Cookie": f"{settings.session_cookie_name}={cookie}"}


def _call(
    side: str, settings: Settings, scenario: Scenario, headers: dict[str, str], engine: Engine
) -> Answer:
    if side == "flask":
        app = create_app(settings)
        try:
            # No cookie jar: it would replace the Cookie header the scenario sends.
            response = app.test_client(use_cookies=False).open(
                scenario.path,
                method=scenario.method,
                headers=headers,
                environ_base={"REMOTE_ADDR": CLIENT_ADDRESS},
                **_body(scenario, "flask"),
            )
            body = response.get_data()
            # A queued download runs on in a thread: the rows compared are its last ones.
            threads = app.extensions["figway"].parts.get(DOWNLOAD_THREADS)
            if threads is not None:
                threads.join(SETTLE_S)
            answer = Answer(
                response.status_code,
                {k.lower(): v for k, v in response.headers.items()},
                tuple(response.headers.getlist("Set-Cookie")),
                body,
                _rows(engine),
            )
            response.close()
        finally:
            app.extensions["figway"].close()
        return answer
    with TestClient(
        create_fastapi_app(settings),
        base_url="http://localhost",
        follow_redirects=False,
        client=(CLIENT_ADDRESS, 50000),
    ) as client:
        if scenario.raw is not None:
            headers = {**headers, "content-type": "application/json"}
        if scenario.files is not None:
            headers = {**headers, "content-type": MULTIPART}
        reply = client.request(
            scenario.method, scenario.path, headers=headers, **_body(scenario, "fastapi")
        )
        modern: Modern = client.app.state.figway  # type: ignore[attr-defined]
        modern.downloads.runner.join(SETTLE_S)
    return Answer(
        reply.status_code,
        {k.lower(): v for k, v in reply.headers.items()},
        tuple(reply.headers.get_list("set-cookie")),
        reply.content,
        _rows(engine),
    )


def _body(scenario: Scenario, side: str) -> dict[str, Any]:
    """The request body in each test client's own terms (Flask: data, httpx: content)."""
    if scenario.raw is not None:
        if side == "flask":
            return {"data": scenario.raw, "content_type": "application/json"}
        return {"content": scenario.raw}
    if scenario.files is not None:
        data = _multipart(scenario.files)
        return {"data": data, "content_type": MULTIPART} if side == "flask" else {"content": data}
    if scenario.form is not None:
        return {"data": scenario.form}  # both clients urlencode a dict
    return {"json": scenario.json} if scenario.json is not None else {}


def _multipart(files: dict[str, tuple[str, bytes, str]]) -> bytes:
    parts = {
        name: FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)
        for name, (filename, data, content_type) in files.items()
    }
    return encode_multipart(parts, boundary=MULTIPART_BOUNDARY)[1]


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order, as plain values."""
    with engine.connect() as conn:
        return {
            table.name: [
                {k: _plain(v) for k, v in row._mapping.items()}
                for row in conn.execute(table.select().order_by(*table.primary_key))
            ]
            for table in Base.metadata.sorted_tables
        }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
