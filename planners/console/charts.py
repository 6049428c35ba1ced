"""The runs-and-failures-per-hour chart, laid out on the server as plain numbers for an inline
SVG template: no JavaScript charting library, and the page reads the same without scripts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WIDTH = 720
HEIGHT = 180
PLOT_LEFT = 36
PLOT_BOTTOM = 150
PLOT_TOP = 12


@dataclass(frozen=True)
class HourBar:
    hour: datetime
    runs: int
    failures: int
    x: float
    width: float
    runs_y: float
    runs_height: float
    failures_y: float
    failures_height: float


@dataclass(frozen=True)
class AxisTick:
    position: float
    label: str


@dataclass(frozen=True)
class HourlyChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: list[HourBar]
    y_ticks: list[AxisTick]
    x_ticks: list[AxisTick]
    total_runs: int
    total_failures: int


def _nice_ceiling(value: int) -> int:
    """Round the y-axis maximum up to 1, 2 or 5 times a power of ten so ticks read well."""
    if value <= 4:
        return 4
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


def hourly_chart(
    rows: Iterable[Mapping[str, Any]], *, now: datetime, hours: int = 24
) -> HourlyChart:
    """Bars for each of the last ``hours`` hours (empty hours included) from rows of
    ``{"hour": datetime, "runs": int, "failures": int}``."""
    by_hour = {row["hour"].replace(minute=0, second=0, microsecond=0): row for row in rows}
    last = now.replace(minute=0, second=0, microsecond=0)
    slots = [last - timedelta(hours=hours - 1 - i) for i in range(hours)]
    series = [
        (
            slot,
            int(by_hour.get(slot, {}).get("runs", 0)),
            int(by_hour.get(slot, {}).get("failures", 0)),
        )
        for slot in slots
    ]
    top = _nice_ceiling(max((runs for _, runs, _ in series), default=0))
    plot_right = WIDTH - 8
    slot_width = (plot_right - PLOT_LEFT) / hours
    scale = (PLOT_BOTTOM - PLOT_TOP) / top
    bars = []
    for index, (slot, runs, failures) in enumerate(series):
        runs_height = runs * scale
        failures_height = failures * scale
        bars.append(
            HourBar(
                hour=slot,
                runs=runs,
                failures=failures,
                x=round(PLOT_LEFT + index * slot_width + 1.5, 1),
                width=round(slot_width - 3, 1),
                runs_y=round(PLOT_BOTTOM - runs_height, 1),
                runs_height=round(runs_height, 1),
                failures_y=round(PLOT_BOTTOM - failures_height, 1),
                failures_height=round(failures_height, 1),
            )
        )
    y_ticks = [
        AxisTick(round(PLOT_BOTTOM - value * scale, 1), str(value)) for value in (0, top // 2, top)
    ]
    x_ticks = [
        AxisTick(round(PLOT_LEFT + (i + 0.5) * slot_width, 1), f"{slot:%H}:00")
        for i, slot in enumerate(slots)
        if i % 6 == 0 or i == hours - 1
    ]
    return HourlyChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=PLOT_LEFT,
        plot_right=plot_right,
        plot_bottom=PLOT_BOTTOM,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        total_runs=sum(b.runs for b in bars),
        total_failures=sum(b.failures for b in bars),
    )
