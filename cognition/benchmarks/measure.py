"""Timing primitives: medians and p95 over repetitions, and the SQL a call sends."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


@dataclass
class Timing:
    samples_ms: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_calls(function: Callable[[], Any], repetitions: int, *, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        function()
    timing = Timing()
    for _ in range(repetitions):
        started = time.perf_counter()
        function()
        timing.samples_ms.append((time.perf_counter() - started) * 1000)
    return timing


def capture_sql(function: Callable[[], Any]) -> list[str]:
    """The SQL ``function`` sends, as the database received it."""
    with CaptureQueriesContext(connection) as context:
        function()
    return [query["sql"] for query in context.captured_queries]
