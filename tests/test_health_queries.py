"""The health report costs the same number of queries at 10 and at 1,000 backlog items."""

from __future__ import annotations

import pytest
from pytest_django import DjangoAssertNumQueries

from planners.health import build_health_report
from tests.factories.backlog import populate_backlog

pytestmark = pytest.mark.django_db

REPORT_QUERIES = 16  # 15 aggregates and the workers' and beat's heartbeats
PLAN_REPORT_QUERIES = REPORT_QUERIES + 1  # the plan's existence check


@pytest.mark.parametrize("items", [10, 1000])
def test_report_query_count_does_not_grow_with_the_backlog(
    items: int,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    populate_backlog(items)

    with django_assert_num_queries(REPORT_QUERIES):
        report = build_health_report()

    assert report.backlog.total == items - len(range(0, items, 50))
    assert report.backlog.flapping
    assert report.backlog.orphaned_total > 0
    assert len(report.backlog.orphaned) <= 20


@pytest.mark.parametrize("items", [10, 1000])
def test_plan_report_query_count_does_not_grow_with_the_backlog(
    items: int,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    plan = populate_backlog(items)

    with django_assert_num_queries(PLAN_REPORT_QUERIES):
        build_health_report(plan_id=plan.pk)
