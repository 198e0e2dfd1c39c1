"""The benchmark's report: goals say met or by how much not, charts land beside the table,
and a profile's summary says where the samples end."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from bench.harness import Load
from bench.profile import summarize
from bench.report import Goal, Scenario, Side, charts, render


def _scenario() -> Scenario:
    return Scenario(
        "Metadata search twin under load",
        "GET /api/metadata/search at 500 clients.",
        sides=[
            Side("owned by fastapi", Load(1200.0, 300.0, 900.0, 12000, 0)),
            Side("owned by flask", Load(20000.0, 10.0, 1500.0, 200000, 198000, 198000)),
        ],
        goals=[
            Goal("successful req/s, fastapi / flask", 6.0, 25.0),
            Goal("fastapi p99 ms", 900.0, 300.0, higher_is_better=False),
        ],
        ok_column=True,
    )


def test_goals_say_whether_met_and_by_how_much() -> None:
    text = render("figway benchmarks", ["Measured now."], [_scenario()])
    assert (
        "| Metadata search twin under load | successful req/s, fastapi / flask >= 25 | 6 | no |"
        in text
    )
    assert "fastapi p99 ms: 900 (goal <= 300): **not met** (3.00x over)" in text
    assert "successful req/s, fastapi / flask: 6 (goal >= 25): **not met** (4.17x short)" in text
    # The 2xx/s column counts only the successful answers: 20,000 req/s, 1% of them 2xx.
    assert "| owned by flask | 20,000 | 200 | 10.00 | 1500.00 | 198000 |" in text
    assert Goal("ratio", 3.0, 3.0).met
    assert not Goal("p99", 300.1, 300.0, higher_is_better=False).met
    assert Goal("errors", 12, 0, higher_is_better=False).shortfall() == "off by 12"


def test_a_chart_per_scenario_with_sides_linked_from_its_table(tmp_path: Path) -> None:
    scenario = _scenario()
    bare = Scenario("Routing decision", "No sides: a figure only.")
    written = charts([scenario, bare], tmp_path, "latest")
    assert written == [tmp_path / "latest-metadata-search-twin-under-load.png"]
    with Image.open(written[0]) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert width > 600
    assert height > 100
    assert bare.chart is None
    text = render("figway benchmarks", [], [scenario, bare])
    assert "![Metadata search twin under load](latest-metadata-search-twin-under-load.png)" in text


def test_profile_summary_counts_working_samples_only(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        # py-spy's raw format: a stack, outermost first, then its sample count.
        "Runner.run (asyncio/runners.py:118);get (sqlalchemy/orm/session.py:3680) 30\n"
        "Runner.run (asyncio/runners.py:118) 50\n"
        "run (threading.py:982);_worker (concurrent/futures/thread.py:81) 900\n"
        "main (gateway/cli.py:10);dumps (json/encoder.py:200) 20\n"
        # A process's own frame alone: its command line, with a ';' in it.
        'process 7:"python -c from multiprocessing.spawn import spawn_main; '
        'spawn_main(tracker_fd=7, pipe_handle=13) --multiprocessing-fork" 10\n'
    )
    summary = summarize(raw)
    assert summary.startswith(
        "by package: uvloop 45%, sqlalchemy 27%, json 18%, (no Python frame) 9%;"
    )
    assert "get (sqlalchemy/orm/session.py) 27%" in summary
    assert "(110 working samples; 900 of threads parked in a wait left out)" in summary
