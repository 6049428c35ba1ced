"""Nothing dropped in silence: alerts no route takes are warned about, recorded and reported;
a breached SLO is sent at once, whatever the repeat interval. Deliveries go to a real receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from opsalerts.actions import evaluate_and_sync
from opsalerts.delivery import send_due_deliveries
from opsalerts.models import Alert, AlertEvent
from planners.health import build_health_report
from tests.factories.health_alerts import FAILURES, NO_EXECUTIONS, STALE, report
from tests.servers import Receiver

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EVALUATION_INTERVAL = timedelta(seconds=60)  # HEALTH_EVALUATION_INTERVAL_SECONDS' default


def only_errors_routed(alerting: Any, receiver: Receiver) -> None:
    """Errors page; nothing catches warnings or info, and there is no default webhook."""
    alerting.OPS_ALERTING_WEBHOOK_URL = ""
    alerting.OPS_ALERTING_ROUTES = json.dumps(
        [{"match": "severity:error", "webhook_url": receiver.url("/pager"), "routing_key": "p"}]
    )


def test_check_warns_when_a_severity_can_match_no_route(alerting: Any, receiver: Receiver) -> None:
    only_errors_routed(alerting, receiver)
    out, err = StringIO(), StringIO()

    call_command("check_ops_alerting", stdout=out, stderr=err, no_color=True)

    assert "OK: Ops alerting configuration is valid." in out.getvalue()
    assert (
        "WARNING (opsalerts.W001): OPS_ALERTING_ROUTES: alerts of severity info, warning can "
        "match no route and there is no default"
    ) in err.getvalue()
    with pytest.raises(SystemCheckError, match=r"opsalerts\.W001"):
        call_command("check", fail_level="WARNING", stdout=StringIO(), stderr=StringIO())


def test_no_warning_with_a_default_route(alerting: Any, receiver: Receiver) -> None:
    only_errors_routed(alerting, receiver)
    routes = json.loads(alerting.OPS_ALERTING_ROUTES)
    routes.append({"match": "default", "webhook_url": receiver.url("/ops")})
    alerting.OPS_ALERTING_ROUTES = json.dumps(routes)
    err = StringIO()

    call_command("check_ops_alerting", stdout=StringIO(), stderr=err)
    call_command("check", fail_level="WARNING", stdout=StringIO(), stderr=StringIO())

    assert "W001" not in err.getvalue()


def test_alert_with_no_route_gets_an_undeliverable_event_and_a_report_alert(
    alerting: Any, receiver: Receiver
) -> None:
    only_errors_routed(alerting, receiver)

    for minute in (0, 1):  # the event is written once, not at every evaluation
        evaluate_and_sync(
            T0 + timedelta(minutes=minute),
            report=report(STALE, FAILURES, NO_EXECUTIONS, status="critical"),
            enqueue=False,
        )
        send_due_deliveries(now=T0 + timedelta(minutes=minute))

    assert [a["id"] for a in receiver.posts("/pager")[0].json["alerts"]] == [
        "planner:recent-failures"
    ]
    undeliverable = AlertEvent.objects.filter(kind="undeliverable")
    assert sorted(e.alert.alert_id for e in undeliverable) == [
        "backlog:stale",
        "planner:no-executions",
    ]
    assert {e.detail["reason"] for e in undeliverable} == {"fired"}
    stranded = build_health_report().alert("ops:undeliverable-alerts")
    assert stranded is not None
    assert stranded.severity == "warning"
    assert "backlog:stale (warning), planner:no-executions (info)" in stranded.description


def test_report_has_no_undeliverable_alert_when_every_severity_has_a_route(
    alerting: Any,
) -> None:
    evaluate_and_sync(T0, report=report(STALE), enqueue=False)

    assert build_health_report().alert("ops:undeliverable-alerts") is None


def test_slo_breach_is_sent_within_one_evaluation_interval_despite_a_four_hour_repeat(
    alerting: Any, receiver: Receiver
) -> None:
    # The README's example: SLO 30 min for stale backlog, repeats every 4 h.
    alerting.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30}'
    alerting.OPS_ALERTING_REPEAT_SECONDS = "14400"
    breach = T0 + timedelta(minutes=30)
    evaluations = [T0 + n * EVALUATION_INTERVAL for n in range(32)]  # every minute to 31 min

    for now in evaluations:
        evaluate_and_sync(now, report=report(STALE), enqueue=False)
        send_due_deliveries(now=now)

    fired, breached = (post.json["alerts"][0] for post in receiver.requests)
    assert (fired["slo_breached"], breached["slo_breached"]) == (False, True)
    reasons = [
        e.detail["reason"] for e in AlertEvent.objects.filter(kind="delivery-queued").order_by("id")
    ]
    assert reasons == ["fired", "slo-breached"]
    alert = Alert.objects.get()
    assert alert.slo_breach_notified_at is not None
    assert breach < alert.slo_breach_notified_at <= breach + EVALUATION_INTERVAL


def test_acknowledged_alert_sends_no_slo_breach(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30}'
    evaluate_and_sync(T0, report=report(STALE), enqueue=False)
    send_due_deliveries(now=T0)
    Alert.objects.update(status=Alert.Status.ACKNOWLEDGED, acknowledged_at=T0)

    later = T0 + timedelta(minutes=45)
    evaluate_and_sync(later, report=report(STALE), enqueue=False)
    send_due_deliveries(now=later)

    assert len(receiver.requests) == 1
