"""Run each scenario against Flask and FastAPI, each on its own fresh, identically
seeded database, and compare what they answer and what they leave behind."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from gateway.app import flat_routes
from gateway.manifest import twin_key
from gateway.parity.compare import Answer, first_difference
from gateway.parity.scenario import Scenario
from legacy_flask import create_app
from shared.auth.passwords import hash_password
from shared.auth.session_cookie import SessionCookieCodec
from shared.auth.tokens import issue_token
from shared.clock import utcnow
from shared.config import Settings
from shared.db.base import Base
from shared.db.engine import sync_url
from shared.db.models import ROLES, User, UserSession
from shared.db.scratch import scratch_database
from shared.services.auth import hash_token
from shared.validation import describe

SEEDED_AT = datetime(2025, 1, 1, tzinfo=UTC)
PASSWORD = "parity-password"  # noqa: S105 - the seeded users' password, for login scenarios
# Hashed once per run, so both databases hold the very same row (a cheap cost: test data).
PASSWORD_HASH = hash_password(PASSWORD, n=16)


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    difference: str | None  # None: they answered alike


def run(scenarios: list[Scenario], database_url: str | None = None) -> list[Outcome]:
    """`database_url`: a MariaDB server to create the databases on; SQLite files if None."""
    with tempfile.TemporaryDirectory(prefix="figway-parity-") as tmp:
        return [_run_one(s, Path(tmp) / str(i), database_url) for i, s in enumerate(scenarios)]


def _run_one(scenario: Scenario, workdir: Path, server_url: str | None) -> Outcome:
    answers: dict[str, Answer] = {}
    now = utcnow()  # one clock reading for both seeds: identical rows on both sides
    for side in ("flask", "fastapi"):
        with _database(workdir / side, server_url) as url:
            settings = _settings(workdir / side, url)
            token = _seed(url, scenario, now)
            headers = dict(scenario.headers)
            if scenario.role is not None:
                headers.update(_credentials(settings, url, scenario, token))
            answers[side] = _call(side, settings, scenario, headers, url)
    difference = first_difference(answers["flask"], answers["fastapi"], scenario.volatile)
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


@contextmanager
def _database(workdir: Path, server_url: str | None) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    if server_url is None:
        url = f"sqlite:///{workdir / 'parity.db'}"
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    with scratch_database(server_url, "figway_parity") as url:
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url


def _settings(workdir: Path, url: str) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=workdir / "var",
        database_url=url,
        secret_key=SecretStr("parity-secret-key-0123456789abcdef"),
        media_root=workdir / "media",
        log_file=workdir / "var" / "figway.log",
        metadata_base_url="http://127.0.0.1:9",
        redis_url=None,
    )


def _seed(url: str, scenario: Scenario, now: datetime) -> str:
    """One user per role and a live session for the scenario's role; the same rows on
    both sides (fixed times, fixed hash, fixed token)."""
    token = f"parity-session-{scenario.role or 'none'}"
    engine = create_engine(sync_url(url))
    try:
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
    finally:
        engine.dispose()
    return token


def _credentials(settings: Settings, url: str, scenario: Scenario, token: str) -> dict[str, str]:
    if scenario.auth == "bearer":
        engine = create_engine(sync_url(url))
        try:
            with Session(engine) as session:
                user = session.scalars(select(User).where(User.role == scenario.role)).one()
                jwt = issue_token(settings, user.id, user.role)["access_token"]
        finally:
            engine.dispose()
        return {"Authorization": f"Bearer {jwt}"}
    cookie = SessionCookieCodec(settings).dumps({"_permanent": True, "sid": token})
    return {"Cookie": f"{settings.session_cookie_name}={cookie}"}


def _call(
    side: str, settings: Settings, scenario: Scenario, headers: dict[str, str], url: str
) -> Answer:
    if side == "flask":
        app = create_app(settings)
        try:
            # No cookie jar: it would replace the Cookie header the scenario sends.
            response = app.test_client(use_cookies=False).open(
                scenario.path, method=scenario.method, headers=headers, **_body(scenario, "flask")
            )
            answer = Answer(
                response.status_code,
                {k.lower(): v for k, v in response.headers.items()},
                tuple(response.headers.getlist("Set-Cookie")),
                response.get_data(),
                _rows(url),
            )
            response.close()
        finally:
            app.extensions["figway"].close()
        return answer
    with TestClient(create_fastapi_app(settings), base_url="http://localhost") as client:
        if scenario.raw is not None:
            headers = {**headers, "content-type": "application/json"}
        reply = client.request(
            scenario.method, scenario.path, headers=headers, **_body(scenario, "fastapi")
        )
    return Answer(
        reply.status_code,
        {k.lower(): v for k, v in reply.headers.items()},
        tuple(reply.headers.get_list("set-cookie")),
        reply.content,
        _rows(url),
    )


def _body(scenario: Scenario, side: str) -> dict[str, Any]:
    """The request body in each test client's own terms (Flask: data, httpx: content)."""
    if scenario.raw is not None:
        if side == "flask":
            return {"data": scenario.raw, "content_type": "application/json"}
        return {"content": scenario.raw}
    return {"json": scenario.json} if scenario.json is not None else {}


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order, as plain values."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    {k: _plain(v) for k, v in row._mapping.items()}
                    for row in conn.execute(table.select().order_by(*table.primary_key))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
