"""Alert lifecycle and notification rules: sync by dedup key, routing, SLO, debounce, repeat,
resolve, severity filter, silences and acknowledgement. Deliveries go to a real receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from opsalerts.actions import acknowledge_alert, evaluate_and_sync, silence_alerts
from opsalerts.delivery import send_due_deliveries
from opsalerts.models import Alert, AlertEvent, Delivery
from opsalerts.silences import alert_is_silenced
from planners.health import HealthAlert, Severity
from planners.models import ActionLogEntry
from tests.factories.health_alerts import FAILURES, NO_EXECUTIONS, STALE, report
from tests.servers import Receiver

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(now: datetime, *alerts: HealthAlert, status: str = "degraded") -> Any:
    """One evaluation at ``now`` followed by the delivery sweep, as beat would do."""
    result = evaluate_and_sync(now, report=report(*alerts, status=status), enqueue=False)
    send_due_deliveries(now=now)
    return result


def kinds(alert: Alert) -> list[str]:
    return list(alert.events.order_by("created_at", "id").values_list("kind", flat=True))


def test_new_alert_fires_then_updates_then_resolves_with_events(alerting: Any) -> None:
    first = evaluate_and_sync(at(0), report=report(STALE), enqueue=False)
    alert = Alert.objects.get()
    assert first.fired == [alert]
    assert (alert.dedup_key, alert.status, alert.occurrences) == (
        "backlog:stale@dev",
        "firing",
        1,
    )
    assert (alert.planner_slug, alert.plan_id, alert.backlog_id) == (
        "chapter-architect",
        7,
        "outline-core-conflicts",
    )

    evaluate_and_sync(at(1), report=report(STALE), enqueue=False)
    alert.refresh_from_db()
    assert (alert.status, alert.occurrences, alert.last_seen) == ("firing", 2, at(1))
    assert alert.first_seen == at(0)

    escalated = HealthAlert(**{**STALE.__dict__, "severity": Severity.ERROR})
    evaluate_and_sync(at(2), report=report(escalated, status="critical"), enqueue=False)
    alert.refresh_from_db()
    assert alert.severity == "error"

    gone = evaluate_and_sync(at(3), report=report(status="healthy"), enqueue=False)
    alert.refresh_from_db()
    assert gone.resolved == [alert]
    assert (alert.status, alert.resolved_at) == ("resolved", at(3))
    assert kinds(alert) == [
        "fired",
        "delivery-queued",
        "severity-changed",
        "resolved",
    ]
    assert Alert.objects.count() == 1


def test_route_for_backlog_stale_sends_one_post_to_its_own_url_with_its_routing_key(
    alerting: Any, receiver: Receiver
) -> None:
    alerting.OPS_ALERTING_ROUTES = json.dumps(
        [
            {
                "match": "alert:backlog:stale",
                "webhook_url": receiver.url("/team-backlog"),
                "routing_key": "team-backlog",
            }
        ]
    )
    run(at(0), STALE, FAILURES, NO_EXECUTIONS, status="critical")

    routed = receiver.posts("/team-backlog")
    assert len(routed) == 1
    assert routed[0].json["routing_key"] == "team-backlog"
    assert [a["id"] for a in routed[0].json["alerts"]] == ["backlog:stale"]

    default = receiver.posts("/default")
    assert len(default) == 1  # one POST per (URL, routing key) per evaluation
    assert default[0].json["routing_key"] == "ops-default"
    assert sorted(a["id"] for a in default[0].json["alerts"]) == [
        "planner:no-executions",
        "planner:recent-failures",
    ]
    assert len(receiver.requests) == 2


def test_first_matching_route_wins(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_ROUTES = json.dumps(
        [
            {"match": "severity:error", "webhook_url": receiver.url("/pager"), "routing_key": "p"},
            {"match": "alert:planner:*", "webhook_url": receiver.url("/plans"), "routing_key": "x"},
            {"match": "default", "webhook_url": receiver.url("/catch-all"), "routing_key": "c"},
        ]
    )
    run(at(0), FAILURES, NO_EXECUTIONS, STALE)
    assert [a["id"] for a in receiver.posts("/pager")[0].json["alerts"]] == [
        "planner:recent-failures"
    ]
    assert [a["id"] for a in receiver.posts("/plans")[0].json["alerts"]] == [
        "planner:no-executions"
    ]
    assert [a["id"] for a in receiver.posts("/catch-all")[0].json["alerts"]] == ["backlog:stale"]
    assert receiver.posts("/default") == []


def test_payload_carries_every_field_and_slo_breach(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_SLO_THRESHOLDS = '{"alert:backlog:stale": 30, "severity:error": 5}'
    alerting.OPS_ALERTING_DEBOUNCE_SECONDS = "0"
    alerting.OPS_ALERTING_REPEAT_SECONDS = "600"
    run(at(0), STALE, FAILURES, status="critical")
    payload = receiver.requests[0].json
    assert set(payload) == {
        "schema_version",
        "source",
        "environment",
        "routing_key",
        "report_status",
        "alerts",
    }
    assert (payload["schema_version"], payload["source"], payload["environment"]) == (
        1,
        "planner-ops",
        "dev",
    )
    assert payload["report_status"] == "critical"
    stale = next(a for a in payload["alerts"] if a["id"] == "backlog:stale")
    assert stale == {
        "id": "backlog:stale",
        "dedup_key": "backlog:stale@dev",
        "status": "firing",
        "severity": "warning",
        "title": STALE.title,
        "description": STALE.description,
        "planner": "chapter-architect",
        "plan_id": 7,
        "backlog_id": "outline-core-conflicts",
        "first_seen": "2026-11-26T09:00:00Z",
        "last_seen": "2026-11-26T09:00:00Z",
        "slo_minutes": 30,
        "slo_breached": False,
        "ack_url": stale["ack_url"],
        "synthetic": False,
    }
    assert stale["ack_url"].startswith("http://ops.example.test/alerts/ack/")

    # Ten minutes later, still unacknowledged: the 5-minute error SLO is breached, the
    # 30-minute one is not; the repeat notification says so.
    run(at(10), STALE, FAILURES, status="critical")
    repeat = receiver.requests[-1].json["alerts"]
    by_id = {a["id"]: a for a in repeat}
    failures = by_id["planner:recent-failures"]
    assert (failures["slo_minutes"], failures["slo_breached"]) == (5, True)
    assert (by_id["backlog:stale"]["slo_minutes"], by_id["backlog:stale"]["slo_breached"]) == (
        30,
        False,
    )
    assert by_id["backlog:stale"]["first_seen"] == "2026-11-26T09:00:00Z"
    assert by_id["backlog:stale"]["last_seen"] == "2026-11-26T09:10:00Z"


def test_alert_without_slo_has_null_minutes_and_no_breach(
    alerting: Any, receiver: Receiver
) -> None:
    run(at(0), NO_EXECUTIONS, status="healthy")
    entry = receiver.requests[0].json["alerts"][0]
    assert (entry["slo_minutes"], entry["slo_breached"]) == (None, False)


def test_debounce_counts_only_successful_deliveries(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_DEBOUNCE_SECONDS = "300"
    run(at(0), STALE)
    assert len(receiver.requests) == 1
    # Resolves and fires again within 5 minutes of the delivery: nothing new is sent yet.
    run(at(1))
    run(at(2), STALE)
    assert len(receiver.requests) == 1
    # After the debounce window the receiver is told nothing it does not already know
    # (it last heard "firing"), so nothing is sent at all.
    run(at(6), STALE)
    assert len(receiver.requests) == 1

    # A delivery that fails does not start a debounce window: the next evaluation tries again.
    receiver.default_status = 503
    alerting.OPS_ALERTING_MAX_ATTEMPTS = "1"
    run(at(7), FAILURES, STALE)
    assert len(receiver.requests) == 2
    assert Delivery.objects.filter(status="dead").count() == 1
    receiver.default_status = 200
    run(at(8), FAILURES, STALE)
    assert len(receiver.requests) == 3
    assert [a["id"] for a in receiver.requests[-1].json["alerts"]] == ["planner:recent-failures"]


def test_resolve_notification_is_sent_once(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_DEBOUNCE_SECONDS = "60"
    run(at(0), STALE)
    run(at(5), status="healthy")
    run(at(6), status="healthy")
    run(at(30), status="healthy")
    statuses = [r.json["alerts"][0]["status"] for r in receiver.requests]
    assert statuses == ["firing", "resolved"]
    resolved = receiver.requests[1].json["alerts"][0]
    assert resolved["ack_url"] == ""
    assert Alert.objects.get().delivered_status == "resolved"


def test_resolve_within_debounce_is_delayed_not_dropped(alerting: Any, receiver: Receiver) -> None:
    run(at(0), STALE)
    run(at(1), status="healthy")
    assert len(receiver.requests) == 1
    run(at(6), status="healthy")
    assert [r.json["alerts"][0]["status"] for r in receiver.requests] == ["firing", "resolved"]


def test_alert_never_delivered_sends_no_resolved_notice(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_SEVERITY_FILTER = "error"
    run(at(0), STALE)
    run(at(10), status="healthy")
    assert receiver.requests == []


def test_severity_filter_delivers_only_listed_severities(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_SEVERITY_FILTER = "warning,error"
    result = run(at(0), STALE, FAILURES, NO_EXECUTIONS, status="critical")
    delivered = [a["id"] for r in receiver.requests for a in r.json["alerts"]]
    assert sorted(delivered) == ["backlog:stale", "planner:recent-failures"]
    assert "OPS_ALERTING_SEVERITY_FILTER" in result.skipped["planner:no-executions@dev"]
    assert Alert.objects.count() == 3  # filtered alerts are still tracked


def test_silenced_alert_is_not_delivered_until_the_silence_ends(
    alerting: Any, receiver: Receiver, staff_user: Any
) -> None:
    silence = silence_alerts("backlog:*", minutes=30, author="olivia", reason="maintenance")
    now = timezone.now()
    result = run(now, STALE, FAILURES)
    delivered = [a["id"] for r in receiver.requests for a in r.json["alerts"]]
    assert delivered == ["planner:recent-failures"]
    assert "silenced by 'backlog:*'" in result.skipped["backlog:stale@dev"]
    stale = Alert.objects.get(alert_id="backlog:stale")
    assert alert_is_silenced(stale)
    log = ActionLogEntry.objects.get(action="silence")
    assert (log.actor, log.detail["pattern"], log.detail["minutes"]) == ("olivia", "backlog:*", 30)

    run(silence.ends_at + timedelta(seconds=1), STALE, FAILURES)
    assert [a["id"] for a in receiver.requests[-1].json["alerts"]] == ["backlog:stale"]


def test_silence_writes_an_event_on_matching_open_alerts(alerting: Any) -> None:
    evaluate_and_sync(at(0), report=report(STALE, FAILURES), enqueue=False)
    silence_alerts("backlog:stale", minutes=60, author="olivia")
    assert "silenced" in kinds(Alert.objects.get(alert_id="backlog:stale"))
    assert "silenced" not in kinds(Alert.objects.get(alert_id="planner:recent-failures"))


def test_firing_alert_is_repeated_until_acknowledged(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_REPEAT_SECONDS = "3600"
    run(at(0), STALE)
    run(at(30), STALE)
    assert len(receiver.requests) == 1
    run(at(61), STALE)
    assert len(receiver.requests) == 2  # repeat after an hour
    alert = Alert.objects.get()
    assert acknowledge_alert(alert, actor="olivia", channel="console") is True
    run(at(130), STALE)
    run(at(300), STALE)
    assert len(receiver.requests) == 2  # acknowledged: no more repeats
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.acknowledged_via) == (
        "acknowledged",
        "olivia",
        "console",
    )


def test_acknowledgement_records_event_and_action_log_once(alerting: Any) -> None:
    evaluate_and_sync(at(0), report=report(STALE), enqueue=False)
    alert = Alert.objects.get()
    assert acknowledge_alert(alert, actor="olivia", channel="admin") is True
    assert acknowledge_alert(alert, actor="paul", channel="api") is False
    event = alert.events.get(kind="acknowledged")
    assert (event.actor, event.channel) == ("olivia", "admin")
    log = ActionLogEntry.objects.get(action="acknowledge")
    assert (log.actor, log.target, log.detail["channel"]) == (
        "olivia",
        "alert backlog:stale@dev",
        "admin",
    )


def test_refired_alert_needs_a_new_acknowledgement(alerting: Any, receiver: Receiver) -> None:
    alerting.OPS_ALERTING_DEBOUNCE_SECONDS = "0"
    run(at(0), STALE)
    alert = Alert.objects.get()
    acknowledge_alert(alert, actor="olivia", channel="link")
    run(at(5), status="healthy")
    run(at(10), STALE)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_at, alert.occurrences) == ("firing", None, 2)
    assert "refired" in kinds(alert)
    assert [r.json["alerts"][0]["status"] for r in receiver.requests] == [
        "firing",
        "resolved",
        "firing",
    ]


def test_disabled_alerting_tracks_alerts_but_delivers_nothing(
    alerting: Any, receiver: Receiver
) -> None:
    alerting.OPS_ALERTING_ENABLED = False
    result = run(at(0), STALE)
    assert result.deliveries == []
    assert Alert.objects.get().status == "firing"
    assert receiver.requests == []


def test_deliveries_are_enqueued_only_after_commit(
    alerting: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = evaluate_and_sync(at(0), report=report(STALE))
    assert len(result.deliveries) == 1
    assert len(callbacks) == 1
    assert Delivery.objects.get().status == "pending"


def test_evaluation_query_count_does_not_grow_with_alerts(
    alerting: Any, django_assert_max_num_queries: Any
) -> None:
    many = [
        HealthAlert(
            id=f"backlog:flapping:1:item-{n}",
            severity=Severity.WARNING,
            title=f"{n}",
            description="",
        )
        for n in range(12)
    ]
    evaluate_and_sync(at(0), report=report(*many), enqueue=False)
    evaluate_and_sync(at(1), report=report(*many[:2]), enqueue=False)
    # Steady state (nothing new, nothing due): a bounded number of queries per alert row.
    with django_assert_max_num_queries(2 + 3 * 2 + 6):
        evaluate_and_sync(at(2), report=report(*many[:2]), enqueue=False)
    assert AlertEvent.objects.filter(kind="resolved").count() == 10
