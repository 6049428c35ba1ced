"""The drill tells only its own story: a payload with just the synthetic alert, a resolve that
fails loudly when the receiver did not get the resolved notice, and an honest cleanup count."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cognition.models import ProcessHeartbeat
from opsalerts.actions import trigger_synthetic_alert
from opsalerts.models import Alert
from planners.models import BacklogTransition
from tests.servers import Receiver

pytestmark = pytest.mark.django_db


def test_drill_payload_carries_only_its_own_synthetic_alert(
    alerting: Any, receiver: Receiver
) -> None:
    # A fresh deployment: no template is seeded and nothing has run, so real alerts fire and
    # are due in the same evaluation as the drill's.
    result = trigger_synthetic_alert("vision", actor="olivia")

    assert result.delivery is not None
    drill = result.delivery.payload["alerts"]
    assert [(a["id"], a["synthetic"], a["planner"]) for a in drill] == [
        ("backlog:stale", True, "vision")
    ]
    real = Alert.objects.filter(synthetic=False)
    assert real.exists()
    assert all(result.delivery.pk not in a.deliveries.values_list("pk", flat=True) for a in real)


def test_resolve_exits_0_once_the_receiver_has_the_resolved_notice(
    alerting: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("trigger_synthetic_alert", "--planner", "vision")

    call_command("trigger_synthetic_alert", "--planner", "vision", "--resolve")

    out = capsys.readouterr().out
    assert "cleared:       1 synthetic backlog entry" in out
    assert "delivery:      sent" in out
    synthetic = [a for r in receiver.requests for a in r.json["alerts"] if a["synthetic"]]
    assert [a["status"] for a in synthetic] == ["firing", "resolved"]
    # Resolving again removes nothing and the receiver already knows: still a success.
    call_command("trigger_synthetic_alert", "--planner", "vision", "--resolve")
    assert "cleared:       0 synthetic backlog entries" in capsys.readouterr().out


def test_resolve_exits_non_zero_when_the_resolved_notice_is_not_delivered(
    alerting: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("trigger_synthetic_alert", "--planner", "vision")
    assert BacklogTransition.objects.filter(item__synthetic=True).exists()
    receiver.stop()

    with pytest.raises(CommandError, match=r"The resolved notice was not delivered \(failed: "):
        call_command("trigger_synthetic_alert", "--planner", "vision", "--resolve")

    # The entry and its transition went; only the entry is counted.
    assert "cleared:       1 synthetic backlog entry" in capsys.readouterr().out
    assert not BacklogTransition.objects.filter(item__synthetic=True).exists()


def test_failed_drill_says_retries_wait_for_beat_when_beat_is_silent(
    alerting: Any, receiver: Receiver
) -> None:
    ProcessHeartbeat.objects.filter(kind=ProcessHeartbeat.Kind.BEAT).delete()
    receiver.stop()

    with pytest.raises(CommandError, match="no beat is alive, so nothing retries it until one"):
        call_command("trigger_synthetic_alert", "--planner", "vision", stdout=StringIO())


def test_failed_drill_says_beat_retries_when_workers_and_beat_are_alive(
    alerting: Any, receiver: Receiver
) -> None:
    receiver.stop()

    with pytest.raises(CommandError, match="beat queues a retry every 30 s"):
        call_command("trigger_synthetic_alert", "--planner", "vision", stdout=StringIO())
