"""A user's parity Suite (parity/README.md) run by `figway --app ... --scenarios ...`:
verify records verdicts naming the suite's file; flips follow them; an edit of the
suite makes them stale. The suite is tests/foreign_parity.py, copied beside the app's
manifest so a test may edit it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway import changes as ops
from gateway import manifest as mf
from gateway.app import Gateway, create_gateway
from gateway.cli import main
from parity import Scenario, Suite
from parity.runner import run
from tests import foreign_app, foreign_parity

GATEWAY = "tests.foreign_app:make_gateway"
HELLO, ITEMS = "GET /hello/<int:n>", "GET /items"


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The foreign app's manifest (all flask) and its database at head."""
    monkeypatch.setenv(foreign_app.DIR_VAR, str(tmp_path))
    for name in ("FIGWAY_APP", "FIGWAY_SCENARIOS"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "routes.yaml"
    assert main(["init", "--app", "tests.foreign_app:legacy", "--out", str(path)]) == 0
    assert main(["--app", GATEWAY, "db", "upgrade"]) == 0
    return path


@pytest.fixture
def suite(manifest: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of tests/foreign_parity.py beside the manifest, importable by a fresh name."""
    name = f"suite_{uuid.uuid4().hex[:8]}"
    path = manifest.parent / f"{name}.py"
    path.write_text(Path(foreign_parity.__file__).read_text())
    monkeypatch.syspath_prepend(str(manifest.parent))
    yield path
    sys.modules.pop(name, None)


def spec(suite: Path) -> str:
    return f"{suite.stem}:SUITE"


def owners(path: Path) -> dict[str, str]:
    return {e.key: e.owner for e in mf.load(path).entries}


def test_verify_records_what_matched_and_flips_follow(manifest, suite, capsys):
    assert main(["--app", GATEWAY, "--scenarios", spec(suite), "verify"]) == 1
    out = capsys.readouterr().out
    rows = {line[:52].strip(): line[52:].split() for line in out.splitlines()}
    assert rows[HELLO] == ["2", "2", "0"]
    assert rows[ITEMS][:3] == ["1", "0", "1"]
    assert "[lists none] body side: flask 'flask', fastapi 'fastapi'" in out
    verdicts = ops.load_verdicts(manifest)
    assert set(verdicts) == {HELLO, ITEMS}
    assert verdicts[HELLO]["passed"] is True and verdicts[ITEMS]["passed"] is False
    # The suite's file, relative to the manifest's directory: read back, never imported.
    assert verdicts[HELLO]["sources"] == [suite.name]
    assert verdicts[HELLO]["twin"] == "tests.foreign_app:hello_twin"

    # A passing verdict: the flip needs neither the scenarios nor --scenarios.
    assert main(["--app", GATEWAY, "flip", HELLO, "--to", "fastapi"]) == 0
    done = capsys.readouterr()
    assert f"{HELLO}: flask -> fastapi" in done.out and "checking parity" not in done.out
    # A failing one: its scenarios run again, and the route is refused by name.
    assert (
        main(["--app", GATEWAY, "--scenarios", spec(suite), "flip", ITEMS, "--to", "fastapi"]) == 1
    )
    done = capsys.readouterr()
    assert "checking parity" in done.out
    assert f"{ITEMS} [lists none]: body side: flask 'flask', fastapi 'fastapi'" in done.err
    assert owners(manifest)[ITEMS] == "flask"
    assert main(["--app", GATEWAY, "flip", ITEMS, "--to", "fastapi", "--force"]) == 0
    assert owners(manifest)[ITEMS] == "fastapi"

    # The suite edited: the verdict no longer vouches for the route.
    assert main(["--app", GATEWAY, "rollback", "--all"]) == 0
    assert ops.unverified(manifest, [HELLO]) == {}
    suite.write_text(suite.read_text() + "\n# another scenario, soon\n")
    assert "changed since" in ops.unverified(manifest, [HELLO])[HELLO]
    capsys.readouterr()
    assert main(["--app", GATEWAY, "flip", HELLO, "--to", "fastapi"]) == 1
    err = capsys.readouterr().err
    assert f"{HELLO}: its code or scenarios changed since" in err and "--scenarios" in err
    assert owners(manifest)[HELLO] == "flask"


def test_scenarios_after_the_command_or_from_the_environment(manifest, suite, monkeypatch):
    assert main(["--app", GATEWAY, "verify", "--route", HELLO, "--scenarios", spec(suite)]) == 0
    monkeypatch.setenv("FIGWAY_SCENARIOS", spec(suite))
    assert main(["--app", GATEWAY, "verify", "--route", HELLO]) == 0
    assert main(["--app", GATEWAY, "verify", "--route", ITEMS]) == 1
    assert set(ops.load_verdicts(manifest)) == {HELLO, ITEMS}


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        ("tests.foreign_parity", "--scenarios 'tests.foreign_parity': expected MODULE:ATTR"),
        ("tests.foreign_parity:nothing", "has no 'nothing'"),
        ("tests.foreign_app:DIR_VAR", "str is not a parity.Suite"),
        ("tests.foreign_parity:make_gateway", "a parity.Suite or a factory taking no arguments"),
    ],
)
def test_a_wrong_suite_is_named(manifest, capsys, scenarios, message):
    assert main(["--app", GATEWAY, "--scenarios", scenarios, "verify"]) == 2
    assert message in capsys.readouterr().err


# --- the runner's rules ------------------------------------------------------------------


def test_the_side_that_answered_and_the_state_left_are_compared(manifest):
    hello = foreign_parity.SUITE.scenarios[0]
    assert run(foreign_parity.SUITE, manifest, [hello])[0].difference is None

    def mine(workdir: Path, copy: Path):  # the manifest given is ignored: flask serves all
        return foreign_parity.make_gateway(workdir, manifest)

    served = run(Suite(mine, (hello,)), manifest, [hello])[0].difference
    assert served is not None and served.startswith("served by flask on the fastapi run")

    # What each side's workdir holds afterwards is compared too, under "rows.".
    def state(workdir: Path) -> dict[str, str]:
        return {"side": workdir.name}

    with_state = Suite(foreign_parity.make_gateway, (hello,), state=state)
    assert run(with_state, manifest, [hello])[0].difference == (
        "rows.side: flask 'flask', fastapi 'fastapi' (flask 'flask', fastapi 'fastapi')"
    )
    calm = replace(hello, volatile=("side", "rows.side"))
    assert run(with_state, manifest, [calm])[0].difference is None

    # A step the legacy side fails (a plain WSGI app answering 500 to all) is the answer.
    def broken(environ: object, start_response: Callable[..., object]) -> list[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"down"]

    def half_broken(workdir: Path, copy: Path) -> Gateway:
        settings = foreign_app.settings(workdir)
        return create_gateway(settings, legacy=broken, modern=foreign_app.modern, manifest=copy)

    stepped = foreign_parity.SUITE.scenarios[1]
    assert stepped.before  # GET /about first
    assert run(Suite(half_broken, (stepped,)), manifest, [stepped])[0].difference == (
        "before step GET /about: flask answered 500"
    )

    unknown = Scenario("GET /nowhere", "not in the manifest", "/nowhere")
    assert run(foreign_parity.SUITE, manifest, [unknown])[0].difference == (
        f"GET /nowhere is not a route of {manifest}"
    )


def test_a_scenario_has_one_body_and_a_method():
    with pytest.raises(ValueError, match="one body at most"):
        Scenario("POST /items", "both", "/items", json={}, form={"a": "b"})
    with pytest.raises(ValueError, match="METHOD PATH"):
        Scenario("/items", "no method", "/items")
    spelt = Scenario("post  /items", "x", "/items")
    assert (spelt.route, spelt.method) == ("POST /items", "POST")
