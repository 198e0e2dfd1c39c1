"""The auto-rollback gates on their own: the manifest's `gates:` (gateway/gates.py, parsed by
gateway/manifest.py), the sliding windows' arithmetic (gateway/window.py) and the verdict
on a window's figures (gateway/rollback.py `judge`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import manifest as mf
from gateway.gates import DEFAULTS, Gates, parse_duration
from gateway.rollback import ERROR_GATE, LATENCY_GATE, judge
from gateway.window import BOUNDS, Figures, RouteWindow, SideWindow, quantile
from tests.test_contract import MANIFEST

HEAD = """\
phases:
  - {number: 1, name: first, milestone: "1.0"}
"""


def load(tmp_path: Path, text: str) -> mf.Manifest:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    return mf.load(path)


def problems(tmp_path: Path, text: str) -> list[mf.Problem]:
    with pytest.raises(mf.ManifestError) as caught:
        load(tmp_path, text)
    return caught.value.problems


# --- the manifest ------------------------------------------------------------------------


def test_a_manifest_saying_nothing_gets_the_documented_defaults(tmp_path):
    manifest = load(tmp_path, HEAD + 'routes:\n  - {route: "GET /a", phase: 1, owner: flask, '
                    "auth: public}\n")  # fmt: skip
    assert manifest.gates == DEFAULTS
    assert manifest.entries[0].gates == DEFAULTS
    documented = Gates(
        error_rate=0.05, p99_ratio=1.5, window_s=60, min_requests=20, watch_s=600,
        p99_floor_s=0.1,
    )  # fmt: skip
    assert documented == DEFAULTS
    # The committed manifest has none either: every route is watched by the defaults.
    assert {e.gates for e in mf.load(MANIFEST).entries if e.method != mf.CHANNEL} == {DEFAULTS}


def test_top_defaults_a_route_override_and_a_route_opting_out(tmp_path):
    manifest = load(
        tmp_path,
        HEAD
        + """\
gates: {error_rate: 2%, p99_ratio: 2, window: 30s, min_requests: 50, watch: 1h}
routes:
  - {route: "GET /a", phase: 1, owner: flask, auth: public}
  - route: "GET /b"
    phase: 1
    owner: flask
    auth: public
    gates: {error_rate: 0.5%, p99_floor: 20ms}
  - {route: "GET /c", phase: 1, owner: flask, auth: public, gates: none}
  - {route: "GET /d", phase: 1, owner: flask, auth: public, gates: {p99_ratio: off}}
  - {route: "SOCKETIO /socket.io/", phase: 1, owner: flask, auth: public}
""",
    )
    top = Gates(error_rate=0.02, p99_ratio=2.0, window_s=30, min_requests=50, watch_s=3600)
    assert manifest.gates == top
    a, b, c, d, channel = manifest.entries
    assert a.gates == top
    assert b.gates == Gates(0.005, 2.0, 30, 50, 3600, 0.02)  # over the top's, not the defaults
    assert c.gates is None
    assert d.gates == Gates(0.02, None, 30, 50, 3600)
    assert channel.gates is None  # a channel's sessions follow its owner: never watched


def test_gates_none_at_the_top_turns_the_defaults_off_a_route_may_still_ask(tmp_path):
    manifest = load(
        tmp_path,
        HEAD
        + """\
gates: none
routes:
  - {route: "GET /a", phase: 1, owner: flask, auth: public}
  - {route: "GET /b", phase: 1, owner: flask, auth: public, gates: {window: 2m}}
""",
    )
    assert manifest.gates is None
    assert manifest.entries[0].gates is None
    assert manifest.entries[1].gates == Gates(window_s=120)  # over the defaults


def test_bad_gates_are_problems_with_their_lines(tmp_path):
    text = (
        HEAD
        + """\
gates: {error_rate: 0.05, window: 1h, speed: fast}
routes:
  - {route: "GET /a", phase: 1, owner: flask, auth: public, gates: {p99_ratio: 0.9}}
  - {route: "GET /b", phase: 1, owner: flask, auth: public, gates: {min_requests: 0, watch: soon}}
  - {route: "GET /c", phase: 1, owner: flask, auth: public, gates: [error_rate]}
  - {route: "SOCKETIO /io/", phase: 1, owner: flask, auth: public, gates: {window: 10s}}
"""
    )
    found = [(p.line, p.entry, p.message) for p in problems(tmp_path, text)]
    assert found == [
        (3, None, "gates: error_rate 0.05: a percentage such as '5%' (or 'off')"),
        (3, None, "gates: window '1h': whole seconds from 1s to 600s"),
        (
            3,
            None,
            "gates: unknown gate 'speed' (known: error_rate, p99_ratio, window, "
            "min_requests, watch, p99_floor)",
        ),
        (5, "GET /a", "gates: p99_ratio 0.9: a number above 1 such as 1.5 (or 'off')"),
        (6, "GET /b", "gates: min_requests 0: a whole number of requests, 1 or more"),
        (6, "GET /b", "gates: watch 'soon': a duration such as '60s', '10m' or '50ms'"),
        (
            7,
            "GET /c",
            "gates: expected a mapping (error_rate, p99_ratio, window, "
            "min_requests, watch, p99_floor) or 'none'",
        ),
        (8, "SOCKETIO /io/", "gates: a Socket.IO channel is never rolled back on its own"),
    ]
    assert str(problems(tmp_path, text)[3]).startswith(f"{tmp_path / 'routes.yaml'}:5: GET /a: ")


@pytest.mark.parametrize(
    ("text", "error"),
    [("100%", "below 100%"), ("-1%", "from 0%"), ("five%", "")],
)
def test_an_error_rate_is_a_percentage_below_all(tmp_path, text, error):
    route = f'  - {{route: "GET /a", phase: 1, owner: flask, auth: public, gates: {{error_rate: "{text}"}}}}\n'  # noqa: E501
    (problem,) = problems(tmp_path, HEAD + "routes:\n" + route)
    assert problem.message.startswith(f"gates: error_rate '{text}': ")
    assert error in problem.message


def test_durations():
    assert parse_duration("60s") == 60
    assert parse_duration("10m") == 600
    assert parse_duration("1.5h") == 5400
    assert parse_duration("50ms") == 0.05
    assert parse_duration(90) == 90
    for bad in ("", "10 minutes", "-1s", True, "1e3s"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_an_edit_keeps_the_gates(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(
        HEAD + 'routes:\n  - {route: "GET /a", phase: 1, owner: flask, auth: public, '
        "gates: {error_rate: 1%}}\n"
    )  # fmt: skip
    with mf.locked(path):
        flipped = mf.set_owners(path, {"GET /a": "fastapi"})
    assert flipped.entries[0].gates == Gates(error_rate=0.01)
    assert mf.load(path).entries[0].owner == "fastapi"


# --- the window --------------------------------------------------------------------------


def counts(window: SideWindow, now: float) -> tuple[int, int]:
    figures = window.figures(now)
    return figures.requests, figures.errors


def test_a_window_counts_the_last_seconds_only():
    window = SideWindow(3)
    for now in (100.1, 100.5, 101.2, 102.9):
        window.add(200, 0.01, now)
    window.add(502, 0.01, 102.95)
    assert counts(window, 102.99) == (5, 1)
    # Second 100 leaves the window at 103, 101 at 104: the slot reused in place.
    assert counts(window, 103.0) == (3, 1)
    window.add(200, 0.01, 103.5)  # the slot of second 100, reset
    assert counts(window, 103.6) == (4, 1)
    assert counts(window, 104.0) == (3, 1)
    assert counts(window, 105.5) == (1, 0)  # second 103 still
    assert counts(window, 106.0) == (0, 0)
    assert window.figures(106.0).p99_s is None
    # Long after (the ring has come round many times): nothing stale is counted.
    window.add(200, 0.01, 1000.0)
    assert counts(window, 1000.0) == (1, 0)


def test_the_window_p99_is_within_a_bucket_of_the_true_one():
    window = SideWindow(60)
    latencies = [0.001 * (n % 100 + 1) for n in range(1000)]  # 1 to 100 ms, evenly
    for n, seconds in enumerate(latencies):
        window.add(200, seconds, 500.0 + n / 100)
    figures = window.figures(510.0)
    assert figures.requests == 1000 and figures.errors == 0
    true_p99 = sorted(latencies)[989]  # 99 ms
    assert figures.p99_s is not None
    assert true_p99 / 1.2 <= figures.p99_s <= true_p99 * 1.2, figures.p99_s


def test_quantile_of_one_bucket_and_past_the_last_bound():
    counts = [0] * (len(BOUNDS) + 1)
    assert quantile(counts, 0.99) is None
    counts[-1] = 5  # every request slower than the last bound
    assert quantile(counts, 0.99) == BOUNDS[-1]
    counts = [0] * (len(BOUNDS) + 1)
    counts[3] = 100
    found = quantile(counts, 0.99)
    assert found is not None and BOUNDS[2] < found <= BOUNDS[3]


def test_a_route_window_keeps_each_side_apart_and_not_the_gateway():
    window = RouteWindow(10)
    window.add("fastapi", 500, 0.2, 7.0)
    window.add("flask", 200, 0.01, 7.0)
    window.add("gateway", 429, 0.0, 7.0)  # a rate limit's refusal: neither side's doing
    assert counts(window.fastapi, 7.5) == (1, 1)
    assert counts(window.flask, 7.5) == (1, 0)


# --- the verdict ---------------------------------------------------------------------------


def test_the_error_gate_needs_min_requests_and_names_its_figures():
    gates = DEFAULTS
    assert judge(gates, Figures(19, 19, 0.01), Figures(0, 0, None)) is None  # too few
    assert judge(gates, Figures(200, 10, 0.01), Figures(0, 0, None)) is None  # 5%: not above
    found = judge(gates, Figures(200, 84, 0.01), Figures(0, 0, None))
    assert found == (ERROR_GATE, "error rate 42% > 5% over 60s (84/200 fastapi requests)")
    assert judge(Gates(error_rate=None), Figures(200, 200, 0.01), Figures(0, 0, None)) is None


def test_the_latency_gate_compares_with_flask_over_the_floor():
    gates = DEFAULTS
    slow, quick = Figures(40, 0, 0.3), Figures(40, 0, 0.01)
    found = judge(gates, slow, quick)
    assert found == (
        LATENCY_GATE,
        "p99 300 ms > 1.5 x flask p99 10 ms over 60s (40 fastapi, 40 flask requests)",
    )
    # No flask traffic to compare with (a route fully on fastapi): the error gate alone.
    assert judge(gates, slow, Figures(0, 0, None)) is None
    assert judge(gates, slow, Figures(19, 0, 0.01)) is None
    # Under the floor, however many times flask's: noise, not a regression.
    assert judge(gates, Figures(40, 0, 0.09), quick) is None
    assert judge(gates, Figures(40, 0, 0.3), Figures(40, 0, 0.25)) is None  # 1.2x
    assert judge(Gates(p99_ratio=None), slow, quick) is None
