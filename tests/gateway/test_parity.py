"""The parity harness: every twin matches its original; a real difference is caught."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from parity.compare import Answer, first_difference
from parity.demo import runner
from parity.demo.scenarios import CATALOGUE, scenarios_for
from tests.loop_guard import guarding


@pytest.fixture(scope="module")
def parity_databases() -> Iterator[Callable[[str | None], runner.Databases]]:
    """The harness's databases per server, made once for all the routes: on MariaDB two
    databases and their schema cost seconds a route, and each scenario empties them before
    it runs all the same (what `figway verify` does across its routes too)."""
    with ExitStack() as stack:
        made: dict[str | None, runner.Databases] = {}

        def databases(server_url: str | None) -> runner.Databases:
            if server_url not in made:
                made[server_url] = stack.enter_context(runner.Databases(server_url))
            return made[server_url]

        yield databases


@pytest.mark.parametrize("route", sorted({s.route for s in CATALOGUE}))
def test_each_twin_answers_like_its_original_and_never_blocks_the_loop(
    server_url, route, parity_databases
):
    """The whole catalogue, a route at a time, with the event-loop guard armed while the
    twins serve it (tests/gateway/test_event_loop_guard.py proves the guard sees)."""
    scenarios = scenarios_for({route})
    with guarding() as caught:
        outcomes = runner.run(scenarios, server_url, databases=parity_databases(server_url))
    assert len(outcomes) == len(scenarios) > 0
    assert [(o.scenario.label, o.difference) for o in outcomes if o.difference] == []
    assert caught == []


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
    # A copy: verify writes its verdicts beside the manifest (.figway/verdicts.json).
    manifest = tmp_path / "migration_status.yaml"
    manifest.write_text(_manifest().read_text())
    monkeypatch.setenv("FIGWAY_MANIFEST", str(manifest))
    assert main(["verify", "--route", "GET /auth/check"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("GET /auth/check"))
    assert line.split()[2:5] == ["5", "5", "0"]
    # Phase 4 (the pages and the static files): every route has a twin now.
    assert main(["verify", "--phase", "4"]) == 0
    out = capsys.readouterr().out
    static = len(scenarios_for({"GET /static/<path:filename>"}))
    line = next(x for x in out.splitlines() if x.startswith("GET /static/<path:filename>"))
    assert line.split()[2:5] == [str(static), str(static), "0"]
    assert "without a FastAPI twin" not in out


def _page(body: str, vary: str | None = "Cookie") -> Answer:
    headers = {"content-type": "text/html; charset=utf-8", **({"vary": vary} if vary else {})}
    return Answer(200, headers, (), body.encode(), {})


PAGE = (
    '<!doctype html>\n<html lang="en"><body>\n  <nav class="nav" aria-label="Main">'
    '<a href="/">Home</a>\n  <a href="/x" aria-current="page">X</a></nav>\n'
    "  <ul><li>one</li><li>two  words</li></ul>\n"
    '  <input name="next" value="&#34;&gt;">\n</body></html>'
)


def test_pages_are_compared_as_a_normalised_dom():
    """Attribute order, indentation, line breaks and how a character is escaped are no
    difference; a text, an attribute, a missing node or Vary is, named by its path."""
    alike = (
        '<!DOCTYPE html><html lang="en"><body><nav aria-label="Main" class="nav">'
        '<a href="/">Home</a><a aria-current="page" href="/x">X</a></nav>'
        "<ul>\n<li>one</li>\n<li>two\nwords</li>\n</ul>"
        '<input value="&quot;>" name="next"/></body></html>'
    )
    assert first_difference(_page(PAGE), _page(alike), ()) is None
    text = _page(PAGE.replace("two  words", "two"))
    assert _diff(_page(PAGE), text) == (
        "body /html[1]/body[1]/ul[1]/li[2]/text()[1]: flask 'two words', fastapi 'two'"
    )
    current = _page(PAGE.replace(' aria-current="page"', ""))
    assert _diff(_page(PAGE), current) == (
        'body /html[1]/body[1]/nav[1]/a[2]: flask <a aria-current="page" href="/x">, '
        'fastapi <a href="/x">'
    )
    shorter = _page(PAGE.replace("<li>one</li>", ""))
    assert _diff(_page(PAGE), shorter).startswith("body /html[1]/body[1]/ul[1]/li[1]/text()[1]")
    assert _diff(_page(PAGE), _page(PAGE + "<p>more</p>")) == ("body /p[1]: only on fastapi")
    assert _diff(_page(PAGE), _page(PAGE, vary=None)) == "header vary: flask 'Cookie', fastapi None"
    assert first_difference(_page(PAGE, "Accept, Cookie"), _page(PAGE, "cookie,accept"), ()) is None
    # JSON answers keep their comparison, Vary aside.
    plain = Answer(200, {"content-type": "application/json", "vary": "Cookie"}, (), b"{}", {})
    assert (
        first_difference(
            plain, Answer(200, {"content-type": "application/json"}, (), b"{}", {}), ()
        )
        is None
    )


def _manifest() -> Path:
    from tests.test_contract import MANIFEST

    return MANIFEST


def _jpeg_answer(size: tuple[int, int], quality: int, fmt: str = "JPEG") -> Answer:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, format=fmt, quality=quality)
    return Answer(200, {"content-type": "image/jpeg"}, (), out.getvalue(), {})


def test_images_are_alike_by_format_and_pixel_size_not_bytes():
    small = _jpeg_answer((64, 48), 90)
    assert first_difference(small, _jpeg_answer((64, 48), 40), ()) is None
    assert (
        first_difference(small, _jpeg_answer((48, 64), 90), ())
        == "body image: flask JPEG 64x48, fastapi JPEG 48x64"
    )
    assert _diff(small, _jpeg_answer((64, 48), 90, "PNG")).startswith("body image")
    # Bytes Pillow cannot read are compared as bytes; other types as before.
    cut = Answer(200, small.headers, (), small.body[:10], {})
    assert _diff(small, cut) == "body image: flask JPEG 64x48, fastapi 10 unreadable bytes"
    plain = Answer(200, {"content-type": "text/plain"}, (), b"a", {})
    assert _diff(plain, Answer(200, plain.headers, (), b"b", {})).startswith("body (root)")


def test_an_empty_html_answer_is_no_page():
    """Flask's `return "", 204` says text/html; with no body, Vary is no page's to compare."""
    empty = Answer(204, {"content-type": "text/html; charset=utf-8", "vary": "Cookie"}, (), b"", {})
    twin = Answer(204, {"content-type": "text/html; charset=utf-8"}, (), b"", {})
    assert first_difference(empty, twin, ()) is None
    assert first_difference(_page(PAGE), _page(PAGE, vary=None), ()) is not None
