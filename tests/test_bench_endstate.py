"""The memory benchmark's end state: the server that refuses to serve with Flask loaded and
reports what it ended with, and the goals the scenario reports (the end state's, not the
gateway's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.endstate import REFUSED_EXIT, flask_modules
from bench.harness import Load
from bench.memory import GOAL, _Memory, _report
from tests.servers import base_env, free_port, running

ROOT = Path(__file__).resolve().parent.parent


def test_flask_its_extensions_and_werkzeug_are_what_the_end_state_refuses() -> None:
    names = ["flask.app", "flask_socketio", "werkzeug.http", "fastapi", "flasky", "shared.web"]
    assert flask_modules(names) == ["flask", "flask_socketio", "werkzeug"]
    assert flask_modules(["fastapi", "starlette.routing", "socketio"]) == []


def test_the_end_state_refuses_to_serve_once_flask_is_loaded(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    # Flask in the process before the app is built, as a stray import would put it there.
    script = (
        "import flask, sys\n"
        "from bench.endstate import main\n"
        f"sys.exit(main(['--port', '{free_port()}', '--modules-out', {str(out)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == REFUSED_EXIT, done.stderr
    assert "refusing to serve" in done.stderr
    assert "flask" in json.loads(out.read_text())["refused"]


def test_the_end_state_serves_without_flask_and_says_so_at_exit(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    port = free_port()
    command = [sys.executable, "-m", "bench.endstate", "--port", str(port)]
    with running([*command, "--modules-out", str(out)], base_env(tmp_path), port, tmp_path / "log"):
        assert not out.exists()  # written once the server has stopped
    found = json.loads(out.read_text())
    assert found["refused"] == []


def _memory(idle_mib: int, loaded_mib: int) -> _Memory:
    load = Load(100.0, 10.0, 20.0, 1000, 0)
    return _Memory(idle_mib * 1024, idle_mib * 1024, loaded_mib * 1024, loaded_mib * 1024, 0, load)


def test_the_goals_are_the_end_state_against_flask_alone_and_the_gateway_a_note() -> None:
    gateway, flask, end_state = _memory(150, 160), _memory(100, 120), _memory(60, 96)
    scenario = _report(gateway, flask, end_state, True, 10, 2.0, 10.0, "MariaDB")
    assert [(g.what, round(g.measured, 2), g.target) for g in scenario.goals] == [
        ("idle RSS, end state / Flask alone", 0.6, GOAL),
        ("loaded RSS, end state / Flask alone", 0.8, GOAL),
    ]
    assert [g.met for g in scenario.goals] == [True, False]
    assert any("1.50 idle, 1.33 under load" in note for note in scenario.notes)
