"""The benchmark's generated data is what the app itself would have stored: the report built on
it agrees with the raw rows, so the figures measure real work."""

from __future__ import annotations

import pytest

from cognition.benchmarks.datagen import SCALES, generate
from planners.health import build_health_report
from planners.models import BacklogItem, BacklogStatus, PlannerExecution

pytestmark = pytest.mark.django_db(transaction=True)


def test_small_scale_data_reads_back_consistently() -> None:
    counts = generate(SCALES["small"])

    assert counts == {"plans": 2, "items": 100, "transitions": 1000, "executions": 300}
    report = build_health_report()
    # One item in a hundred waits on a token nobody outputs; only unfinished ones are orphans.
    waiting = [
        item
        for item in BacklogItem.objects.all()
        if any(token.startswith("missing-") for token in item.inputs)
    ]
    assert [item.backlog_id for item in waiting] == ["item-000099"]
    unfinished = [item for item in waiting if item.status != BacklogStatus.COMPLETE]
    assert report.backlog.orphaned_total == len(unfinished)
    # The roll-up the generator ran leaves the all-time totals exactly as the rows say.
    assert report.telemetry.executions_total == PlannerExecution.objects.count()
    assert report.backlog.total == BacklogItem.objects.filter(synthetic=False).count()


def test_generating_twice_replaces_the_data() -> None:
    generate(SCALES["small"])
    generate(SCALES["small"])

    report = build_health_report()
    assert report.telemetry.executions_total == 300
    assert BacklogItem.objects.count() == 100
