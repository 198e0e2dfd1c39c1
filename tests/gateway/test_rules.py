"""gateway/rules.py decides exactly as werkzeug's Map, the matcher Flask uses (installed in
the dev environment, imported by this test only): the same rule, redirect, 405 (with the
same methods) or 404, over the repository's manifest, the example app's, and generated
rule sets, for thousands of seeded random paths and methods and the usual edge cases."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import RequestRedirect

from gateway import manifest as mf
from gateway.rules import Matcher, Outcome, RuleError, check_rule, compile_rule
from gateway.table import FASTAPI, FLASK, RouteTable
from tests.test_contract import MANIFEST

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MANIFEST = ROOT / "examples" / "blog" / "routes.yaml"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ENTRY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# As werkzeug quotes a redirect's path (MapAdapter.match).
_REDIRECT_SAFE = "!$&'()*+,/:;=@"

Spec = tuple[str, str]  # (method, rule path)


def _werkzeug(specs: Iterable[Spec]) -> object:
    return Map(
        [Rule(path, methods=[method], endpoint=f"{method} {path}") for method, path in specs]
    ).bind("localhost")


def werkzeug_outcome(adapter: object, path: str, method: str) -> tuple[object, ...]:
    try:
        endpoint, _args = adapter.match(path, method=method)  # type: ignore[attr-defined]
    except RequestRedirect as exc:
        return ("redirect", exc.new_url)
    except MethodNotAllowed as exc:
        return ("405", frozenset(exc.valid_methods or ()))
    except NotFound:
        return ("404",)
    return ("match", endpoint)


def our_outcome(matcher: Matcher, path: str, method: str) -> tuple[object, ...]:
    found: Outcome = matcher.match(path, method)
    if found.endpoint is not None:
        return ("match", found.endpoint)
    if found.redirect is not None:
        # The URL werkzeug builds from it (bound to localhost, no script root).
        return ("redirect", "http://localhost/" + quote(found.redirect, _REDIRECT_SAFE).lstrip("/"))
    if found.allowed:
        return ("405", found.allowed)
    return ("404",)


def compare(specs: list[Spec], probes: Iterable[tuple[str, str]]) -> int:
    """Every probe decided alike by both matchers, and by the table (through its cache)
    as werkzeug's answer implies; the number of probes."""
    adapter = _werkzeug(specs)
    ours = Matcher(compile_rule(path, (method,), f"{method} {path}") for method, path in specs)
    entries = tuple(
        mf.Entry(m, p, 1, FASTAPI if i % 2 else FLASK, "public", "", i)
        for i, (m, p) in enumerate(specs)
    )
    table = RouteTable(entries)
    owners = {e.key: e.owner for e in entries}
    count = 0
    for method, path in probes:
        expected = werkzeug_outcome(adapter, path, method)
        assert our_outcome(ours, path, method) == expected, (method, path, specs)
        decision = table.decide(method, path)
        if method == "OPTIONS" or expected[0] != "match":
            assert (decision.owner, decision.route) == (FLASK, None), (method, path, expected)
        else:
            key = str(expected[1])
            assert (decision.owner, decision.route) == (owners[key], key), (method, path)
        count += 1
    return count


# --- paths ------------------------------------------------------------------------------

_WORDS = ("a", "b", "api", "bulk", "edit", "x.y", "file.txt", "é", "日本", "-", "_", "v1", "00")
_ODD = (
    "",
    ".",
    "..",
    "%2F",
    "%2f",
    "a%20b",
    "٣",  # ARABIC-INDIC DIGIT THREE: \d, and int() takes it
    "\uff11\uff12",  # FULLWIDTH DIGIT ONE, TWO
    "²",  # a digit to str.isdigit, not to \d
    "9" * 19,
    "9" * 5000,  # past int()'s digit limit: werkzeug refuses it
    "-1",
    "-0",
    "1.5",
    "-2.25",
    "0.0",
    "1e5",
    "inf",
    " ",
    "a b",
    "<int:x>",
)


def _value(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return str(rng.randrange(0, 10 ** rng.randrange(1, 6)))
    if kind == 1:
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if kind == 2:
        return rng.choice(_ODD)
    if kind == 3:
        return f"{rng.randrange(100)}.{rng.randrange(100)}"
    if kind == 4:
        return "/".join(rng.choice(_WORDS) for _ in range(rng.randrange(1, 4)))
    return rng.choice(_WORDS)


def instantiate(rule: str, rng: random.Random) -> str:
    """A path for the rule: each variable replaced by a value that may or may not fit."""

    def value(variable: re.Match[str]) -> str:
        if variable[0].startswith("<int") and rng.random() < 0.5:
            return str(rng.randrange(100))  # mostly a fitting value, for more matches
        return _value(rng)

    return re.sub(r"<[^>]+>", value, rule)


def mutate(path: str, rng: random.Random) -> str:
    choice = rng.randrange(12)
    if choice == 0:
        return path + "/"
    if choice == 1:
        return path.rstrip("/") or "/"
    if choice == 2 and "/" in path[1:]:
        cut = rng.choice([i for i, ch in enumerate(path) if ch == "/"])
        return path[:cut] + "/" + path[cut:]  # a double slash
    if choice == 3:
        return "//" + path.lstrip("/")
    if choice == 4:
        return path + "/" + rng.choice(_ODD)
    if choice == 5:
        return path.replace("/", "%2F", 1)
    if choice == 6:
        return path + "//"
    if choice == 7:
        return path + "/."
    if choice == 8:
        return path[: rng.randrange(len(path) + 1)]
    return path


EDGE_PATHS = (
    "",
    "/",
    "//",
    "///",
    "/.",
    "/..",
    "/%2F",
    "//api//videos//7",
    "/api/videos/7/",
    "/api/videos//7",
    "/api/videos/٣",
    "/api/videos/\uff11\uff12",
    "/api/videos/²",
    "/api/videos/" + "9" * 5000,
    "/api/videos/" + "9" * 19,
    "/api/videos/-1",
    "/api/videos/1.0",
    "/api/videos/search/",
    "/api/settings/bulk",
    "/api/settings/bulk/",
    "/api/settings/a%2Fb",
    "/api/settings/a/b",
    "/static",
    "/static/",
    "/static//css//app.css",
    "/static/css/",
    "/static/..",
    "/socket.io/",
    "/api/videos/7/thumbnail/",
    "/api/videos/7/thumbnail/small/",
    "/api/videos/7/thumbnail/sm all",
    "/é",
    "/日本/",
)


def probes_for(specs: list[Spec], rng: random.Random, count: int) -> list[tuple[str, str]]:
    paths = list(EDGE_PATHS)
    while len(paths) < count:
        _method, rule = rng.choice(specs)
        path = instantiate(rule, rng)
        for _ in range(rng.randrange(3)):
            path = mutate(path, rng)
        paths.append(path)
    return [(rng.choice(METHODS), p) for p in paths] + [(m, p) for p in EDGE_PATHS for m in METHODS]


# --- rule sets --------------------------------------------------------------------------


def manifest_specs(path: Path) -> list[Spec]:
    return [(e.method, e.path) for e in mf.load(path).entries if e.method != mf.CHANNEL]


_CONVERTERS = (
    "<{}>",
    "<string:{}>",
    "<int:{}>",
    "<int(signed=True):{}>",
    "<int(fixed_digits=2):{}>",
    "<int(min=3, max=50):{}>",
    "<float:{}>",
    "<float(signed=True):{}>",
    "<string(length=2):{}>",
    "<string(minlength=2, maxlength=3):{}>",
    "<any(a, b, 'x.y'):{}>",
    "<uuid:{}>",
    "<path:{}>",
    "<default:{}>",
)


def generated_specs(rng: random.Random) -> list[Spec]:
    """A random Flask rule set: static and variable segments, mixed segments, slash-taking
    converters in the middle, trailing slashes, one path with several methods."""
    specs: dict[Spec, None] = {}
    for _ in range(rng.randrange(3, 25)):
        segments = []
        names = iter(f"v{i}" for i in range(20))
        for _ in range(rng.randrange(0, 4)):
            kind = rng.randrange(6)
            if kind <= 1:
                segments.append(rng.choice(("a", "b", "api", "bulk", "edit", "7", "x.y", "é")))
            elif kind <= 3:
                segments.append(rng.choice(_CONVERTERS).format(next(names)))
            elif kind == 4:
                segments.append(
                    rng.choice(("file.", "v", "")) + rng.choice(_CONVERTERS).format(next(names))
                )
            else:
                segments.append(
                    rng.choice(_CONVERTERS[:3]).format(next(names))
                    + rng.choice(("-", ".", "x"))
                    + rng.choice(_CONVERTERS[:4]).format(next(names))
                )
        path = "/" + "/".join(segments)
        if segments and rng.random() < 0.3:
            path += "/"
        for method in rng.sample(ENTRY_METHODS, rng.randrange(1, 3)):
            specs[(method, path)] = None
    return list(specs)


# --- the tests --------------------------------------------------------------------------


def test_the_repository_manifest_decides_as_werkzeug():
    specs = manifest_specs(MANIFEST)
    assert compare(specs, probes_for(specs, random.Random(15), 4000)) > 4000


def test_the_example_app_decides_as_werkzeug():
    specs = manifest_specs(EXAMPLE_MANIFEST)
    assert compare(specs, probes_for(specs, random.Random(16), 2000)) > 2000


@pytest.mark.parametrize("seed", range(40))
def test_generated_rule_sets_decide_as_werkzeug(seed):
    rng = random.Random(seed)
    specs = generated_specs(rng)
    assert compare(specs, probes_for(specs, rng, 300)) > 300


def test_a_rule_used_twice_with_other_methods_is_a_405_listing_them():
    specs = [("GET", "/x/<int:n>"), ("DELETE", "/x/<int:n>"), ("POST", "/x/")]
    compare(specs, [(m, p) for m in METHODS for p in ("/x/1", "/x", "/x/", "/x/a", "/x//1")])
    assert Matcher([compile_rule("/x/<int:n>", ["GET"], "e")]).match("/x/1", "PUT") == Outcome(
        None, allowed=frozenset({"GET", "HEAD"})
    )


def test_a_converter_that_refuses_the_value_does_not_try_the_next_rule():
    # werkzeug validates after the match: /n/99 is a 404, though /n/<b> would take it.
    specs = [("GET", "/n/<int(max=50):a>"), ("GET", "/n/<b>")]
    compare(specs, [("GET", "/n/99"), ("GET", "/n/9"), ("GET", "/n/x")])
    assert (
        Matcher([compile_rule(p, [m], p) for m, p in specs]).match("/n/99", "GET").endpoint is None
    )


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("/a/<color:x>", "unknown converter 'color'"),
        ("/a/<int(bogus=1):x>", "converter 'int': bad arguments"),
        ("/a/<int(x y):x>", "cannot parse converter argument"),
        ("/<1x>", "malformed rule"),
        ("/a/<x", "malformed rule"),
        ("/a/<string(length='two'):x>", "converter 'string': bad arguments"),
    ],
)
def test_what_werkzeug_refuses_or_figway_cannot_match_is_refused_at_load(rule, problem):
    with pytest.raises((ValueError, LookupError, TypeError)):
        _werkzeug([("GET", rule)]).match("/a/1")  # type: ignore[attr-defined]
    found = check_rule(rule)
    assert found is not None and problem in found, found
    with pytest.raises(RuleError):
        compile_rule(rule, ["GET"], "e")


def test_the_manifest_names_an_unknown_converter(tmp_path):
    text = mf.load(MANIFEST).path.read_text(encoding="utf-8")
    bad = tmp_path / "m.yaml"
    bad.write_text(text.replace("<int:video_id>/stream", "<color:video_id>/stream"))
    with pytest.raises(mf.ManifestError) as caught:
        mf.load(bad)
    assert "unknown converter 'color'" in str(caught.value)
    assert "GET /api/videos/<color:video_id>/stream" in str(caught.value)


def test_huge_numbers_are_not_folded_into_a_small_one():
    t = RouteTable((mf.Entry("GET", "/v/<int:n>", 1, FASTAPI, "public", "", 1),))
    assert t.decide("GET", "/v/7").owner == FASTAPI
    assert t.decide("GET", "/v/" + "9" * 5000).route is None  # int() refuses: Flask's 404


def test_converters_that_read_digits_turn_folding_off():
    t = RouteTable((mf.Entry("GET", "/v/<int(max=9):n>", 1, FASTAPI, "public", "", 1),))
    assert t.decide("GET", "/v/7").owner == FASTAPI
    assert t.decide("GET", "/v/70").route is None
