"""Time on the x-axis: runs, failures and latency p50/p95 per bucket over 1 h, 24 h or 7 d (the
range kept in the URL), and each planner's success over the last day."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planners.console.cards.series import RANGES, execution_series, success_sparklines
from planners.models import PlannerOutcome
from tests.factories.console import ConsoleData, add_vision_runs, build_console_data

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


def _two_hours_ago() -> datetime:
    return (timezone.now() - timedelta(hours=2)).replace(minute=5, second=0, microsecond=0)


def test_each_range_has_its_buckets_and_counts(data: ConsoleData) -> None:
    add_vision_runs(_two_hours_ago(), [100] * 3)
    hour = execution_series(RANGES["1h"])
    day = execution_series(RANGES["24h"])
    week = execution_series(RANGES["7d"])
    assert (len(hour.times), len(day.times), len(week.times)) == (60, 24, 168)
    # The factory's two runs are now; the three from two hours ago are outside the last hour.
    assert (hour.total_runs, day.total_runs, week.total_runs) == (2, 5, 5)
    assert day.total_failures == 1


def test_latency_percentiles_per_bucket_leave_failed_runs_out(data: ConsoleData) -> None:
    at = _two_hours_ago()
    add_vision_runs(at, [100 * n for n in range(1, 21)])  # 100 ms ... 2000 ms
    add_vision_runs(at, [0] * 5, outcome=PlannerOutcome.FAILED)
    day = execution_series(RANGES["24h"])
    bucket = day.times.index(int(at.replace(minute=0).timestamp()))
    assert (day.p50_ms[bucket], day.p95_ms[bucket]) == (1000, 1900)  # nearest rank of 20
    assert day.runs[bucket] == 25
    assert day.failures[bucket] == 5


def test_the_range_is_kept_in_the_url(staff_client: Client, data: ConsoleData) -> None:
    content = staff_client.get(reverse("console:dashboard"), {"range": "7d"}).content.decode()
    telemetry = content.split('id="card-telemetry"')[1].split("</section>")[0]
    assert 'data-range="7d" aria-current="true"' in telemetry
    assert 'data-live-query="range=7d"' in content
    assert 'hx-push-url="/operations/backlog-telemetry/?range=1h"' in telemetry
    found = re.search(r'id="series-7d"[^>]*>(.*?)</script>', content, re.S)
    assert found, "no series data for the 7 d range"
    series = json.loads(found.group(1))
    assert len(series["times"]) == 168


def test_an_unknown_range_is_the_default(staff_client: Client, data: ConsoleData) -> None:
    card = staff_client.get(
        reverse("console:card", args=["telemetry"]), {"range": "5y"}, **HTMX
    ).content.decode()
    assert 'data-range="24h" aria-current="true"' in card


def test_each_planner_has_a_success_sparkline(staff_client: Client, data: ConsoleData) -> None:
    lines = success_sparklines()
    assert lines["vision"]["success"][-1] == 1.0
    assert lines["iterative"]["success"][-1] == 0.0
    card = staff_client.get(reverse("console:card", args=["planners"]), **HTMX).content.decode()
    assert 'data-chart="sparkline" data-source="spark-vision"' in card
    assert "1 of 1 runs succeeded in the last 24 hours" in card
