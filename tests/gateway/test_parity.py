"""The parity harness: every twin matches its original; a real difference is caught."""

from __future__ import annotations

from pathlib import Path

from gateway.parity import runner
from gateway.parity.compare import Answer, first_difference
from gateway.parity.scenarios import CATALOGUE


def test_every_scenario_of_the_catalogue_matches(server_url):
    outcomes = runner.run(list(CATALOGUE), server_url)
    assert len(outcomes) == len(CATALOGUE)
    assert [(o.scenario.label, o.difference) for o in outcomes if o.difference] == []


def test_a_body_difference_is_found_unless_declared_volatile():
    version = Answer(200, {"content-type": "application/json"}, (), b'{"version": "1"}', {})
    other = Answer(200, {"content-type": "application/json"}, (), b'{"version": "2"}', {})
    assert first_difference(version, other, ()) == "body version: flask '1', fastapi '2'"
    assert first_difference(version, other, ("version",)) is None


def _diff(a: Answer, b: Answer) -> str:
    found = first_difference(a, b, ())
    assert found is not None
    return found


def test_each_kind_of_difference_is_named():
    base = Answer(
        200,
        {"content-type": "application/json"},
        ("session=x; HttpOnly; Path=/",),
        b'{"a": [1, {"b": 2}]}',
        {"users": [{"id": 1}]},
    )
    assert (
        first_difference(
            base, Answer(201, base.headers, base.set_cookies, base.body, base.rows), ()
        )
        == "status: flask 200, fastapi 201"
    )
    moved = Answer(200, {**base.headers, "location": "/x"}, base.set_cookies, base.body, base.rows)
    assert _diff(base, moved).startswith("header location")
    plain = Answer(200, base.headers, ("session=y; Path=/",), base.body, base.rows)
    assert _diff(base, plain).startswith("cookies")
    nested = Answer(200, base.headers, base.set_cookies, b'{"a": [1, {"b": 3}]}', base.rows)
    assert first_difference(base, nested, ()) == "body a.1.b: flask 2, fastapi 3"
    assert first_difference(base, nested, ("a.*.b",)) is None
    rows = Answer(200, base.headers, base.set_cookies, base.body, {"users": []})
    assert _diff(base, rows).startswith("rows.users: 1 items on flask, 0 on fastapi")
    salted = Answer(
        200, base.headers, base.set_cookies, base.body, {"users": [{"id": 1, "password_hash": "a"}]}
    )
    other_salt = Answer(
        200, base.headers, base.set_cookies, base.body, {"users": [{"id": 1, "password_hash": "b"}]}
    )
    assert _diff(salted, other_salt).startswith("rows.users.0.password_hash")
    assert first_difference(salted, other_salt, ("rows.users.*.password_hash",)) is None
    utf8 = Answer(
        200,
        {"content-type": "application/json; charset=utf-8"},
        base.set_cookies,
        base.body,
        base.rows,
    )
    assert first_difference(base, utf8, ()) is None


def test_figway_verify_prints_the_table_and_exits_zero(monkeypatch, capsys, tmp_path):
    from gateway.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIGWAY_MANIFEST", str(_manifest()))
    assert main(["verify", "--phase", "1"]) == 0
    out = capsys.readouterr().out
    assert "GET /api/version" in out and "GET /auth/check" in out
    line = next(x for x in out.splitlines() if x.startswith("GET /auth/check"))
    assert line.split()[2:5] == ["5", "5", "0"]
    assert "without a FastAPI twin yet" in out


def _manifest() -> Path:
    from tests.test_contract import MANIFEST

    return MANIFEST
