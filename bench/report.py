"""Results: tables per scenario with the ratio, the goal, and whether it was met."""

from __future__ import annotations

from dataclasses import dataclass, field

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
            gap = f" (short by {number(abs(self.target - self.measured))})"
        return f"{self.what}: {number(self.measured)} (goal {sign} {self.target:g}): {verdict}{gap}"


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

    def render(self) -> str:
        lines = [f"## {self.name}", "", self.description, ""]
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
