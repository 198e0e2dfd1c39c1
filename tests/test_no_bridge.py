"""No twin runs sync code through a bridge on a request path (issue 13's rule), read off
the source of fastapi_app/: no `run_sync` on a session or connection, no AsyncSession, no
sync dependency (FastAPI would run it on a worker thread)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from fastapi.dependencies.models import Dependant

import fastapi_app
from fastapi_app import create_fastapi_app
from shared.config import Settings
from shared.web.methods import flat_routes

PACKAGE = Path(fastapi_app.__file__).parent
# anyio.to_thread.run_sync / asyncio.to_thread: CPU-bound or blocking work handed to a
# worker thread on purpose (scrypt, Pillow, a file's stat), each with its reason beside it.
THREAD_OFFLOAD = {"to_thread"}


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(PACKAGE.rglob("*.py"))]


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return "?"


def test_no_twin_calls_run_sync_on_a_session_or_connection():
    bridged = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "run_sync":
                continue
            owner = _dotted(node.func.value)
            if owner.rsplit(".", 1)[-1] not in THREAD_OFFLOAD:
                bridged.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {owner}.run_sync")
    assert bridged == []


def test_no_twin_uses_an_orm_session():
    found = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if name in {"AsyncSession", "SessionDep", "async_sessionmaker"}:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {name}")
    assert found == []


def _calls(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.append(sub.call)
        found.extend(_calls(sub))
    return found


def test_every_handler_and_dependency_is_async(tmp_path):
    checked = 0
    app = create_fastapi_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", secret_key="x" * 32)
    )
    sync = []
    for route in flat_routes(app.routes):
        dependant = getattr(route, "dependant", None)  # the docs' routes have none
        if dependant is None:
            continue
        for call in [dependant.call, *_calls(dependant)]:
            target = call if inspect.isroutine(call) else type(call).__call__
            if not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)):
                sync.append(f"{route.path} {getattr(call, '__qualname__', call)}")
        checked += 1
    assert checked > 50  # every twin was read
    assert sync == []
