"""Results: tables per scenario with the ratio, the goal, and whether it was met."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import Load


@dataclass
class Side:
    label: str
    load: Load
    extra: tuple[str, ...] = ()  # one cell per Scenario.extra_columns, already formatted


@dataclass
class Goal:
    what: str  # "throughput ratio", "p99 ms", ...
    measured: float
    target: float
    higher_is_better: bool = True

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.measured >= self.target
        return self.measured <= self.target

    def render(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        verdict = "**met**" if self.met else "**not met**"
        gap = ""
        if not self.met:
            gap = f" ({self.shortfall()})"
        return f"{self.what}: {number(self.measured)} (goal {sign} {self.target:g}): {verdict}{gap}"

    def shortfall(self) -> str:
        """By how much a missed goal was missed: a factor, where there is one."""
        if self.target == 0 or self.measured == 0:
            return f"off by {number(abs(self.target - self.measured))}"
        if self.higher_is_better:
            return f"{self.target / self.measured:.2f}x short"
        return f"{self.measured / self.target:.2f}x over"


@dataclass
class Scenario:
    name: str
    description: str
    sides: list[Side] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Add a column of successful answers per second (Load.ok_per_s), for scenarios where
    # req/s counts many failures (e.g. the legacy side's 503s under overload).
    ok_column: bool = False
    # Figures wrk does not give (e.g. the server's event-loop lag), after the errors column.
    extra_columns: tuple[str, ...] = ()
    # What p50/p99 time, when it is not the whole request (e.g. "TTFB ").
    latency_label: str = ""
    # The PNG chart beside the results (charts() sets it), by its file name.
    chart: str | None = None

    def render(self) -> str:
        lines = [f"## {self.name}", "", self.description, ""]
        if self.chart:
            lines += [f"![{self.name}]({self.chart})", ""]
        if self.sides:
            ok = ("2xx/s",) if self.ok_column else ()
            p50, p99 = f"{self.latency_label}p50 ms", f"{self.latency_label}p99 ms"
            columns = ("req/s", *ok, p50, p99, "errors", *self.extra_columns)
            lines += [
                "| side | " + " | ".join(columns) + " |",
                "|---|" + "---:|" * len(columns),
            ]
            for s in self.sides:
                cells = [f"{s.load.requests_per_s:,.0f}"]
                if self.ok_column:
                    cells.append(f"{s.load.ok_per_s:,.0f}")
                cells += [f"{s.load.p50_ms:.2f}", f"{s.load.p99_ms:.2f}", str(s.load.errors)]
                cells += s.extra
                lines.append(f"| {s.label} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += [f"- {g.render()}" for g in self.goals]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def render(title: str, header: list[str], scenarios: list[Scenario]) -> str:
    parts = [f"# {title}", "", *header, ""]
    summary = ["| scenario | goal | measured | met |", "|---|---|---:|---|"]
    for scenario in scenarios:
        for goal in scenario.goals:
            summary.append(
                f"| {scenario.name} | {goal.what} "
                f"{'>=' if goal.higher_is_better else '<='} {goal.target:g} | "
                f"{number(goal.measured)} | {'yes' if goal.met else 'no'} |"
            )
    parts += [*summary, ""]
    parts += [s.render() for s in scenarios]
    return "\n".join(parts)


def number(value: float) -> str:
    """Three significant digits, without exponents for the large figures (1,087 not 1.09e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def charts(scenarios: list[Scenario], directory: Path, stem: str) -> list[Path]:
    """One PNG per scenario with sides, beside the results: throughput on the left (the
    successful answers where failures are part of the story), p50 and p99 on the right.
    Sets each scenario's `chart`; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    written: list[Path] = []
    for scenario in scenarios:
        if not scenario.sides:
            continue
        labels = [textwrap.fill(s.label, 34) for s in scenario.sides][::-1]
        loads = [s.load for s in scenario.sides][::-1]
        rows = range(len(loads))
        height = 0.9 + 0.55 * len(loads)
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(11, height), sharey=True, gridspec_kw={"width_ratios": [1, 1]}
        )
        per_s = [x.ok_per_s if scenario.ok_column else x.requests_per_s for x in loads]
        left.barh(rows, per_s, color="#4c72b0")
        left.set_yticks(list(rows), labels, fontsize=8)
        left.set_xlabel("successful answers/s" if scenario.ok_column else "requests/s")
        for row, value in zip(rows, per_s, strict=True):
            left.annotate(f" {value:,.0f}", (value, row), va="center", fontsize=7)
        bar = 0.38
        right.barh([r + bar / 2 for r in rows], [x.p50_ms for x in loads], bar, label="p50")
        right.barh([r - bar / 2 for r in rows], [x.p99_ms for x in loads], bar, label="p99")
        right.set_xlabel(f"{scenario.latency_label}latency, ms")
        right.legend(fontsize=7, loc="best")
        for axis in (left, right):
            axis.margins(x=0.18)
            axis.tick_params(axis="x", labelsize=7)
        fig.suptitle(scenario.name, fontsize=10)
        fig.tight_layout()
        path = directory / f"{stem}-{_slug(scenario.name)}.png"
        # No timestamp or version in the file: an unchanged chart is an unchanged file.
        fig.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(fig)
        scenario.chart = path.name
        written.append(path)
    return written


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
