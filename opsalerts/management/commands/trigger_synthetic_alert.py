"""Fire a synthetic alert for a planner, deliver it now, optionally wait for its ack.

Exit codes: 0 delivered (and acknowledged through the target channel, with --wait-ack; with
--resolve, the receiver has the resolved notice), 1 error (unknown planner, configuration, not
delivered, the resolved notice not delivered), 3 acknowledgement not received within --wait-ack
seconds, 4 acknowledged, but only from somewhere that does not reach the route's recipients (the
admin, the console or the API). With --wait-ack a failed first attempt is not fatal: beat queues
a retry every 30 s while the command waits (the messages say when no worker or no beat is alive
to do it).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cognition.command_arguments import positive_seconds
from cognition.liveness import current_liveness
from opsalerts.actions import (
    OpsAlertingError,
    SyntheticResult,
    resolve_synthetic_alert,
    trigger_synthetic_alert,
)
from opsalerts.config_formats import mask_url, shown_routing_key
from opsalerts.models import Alert, Delivery

EXIT_ACK_TIMEOUT = 3
EXIT_ACK_ELSEWHERE = 4


def who_retries() -> str:
    """Retries are queued by beat and sent by a worker: say so only when both are alive."""
    liveness = current_liveness()
    if liveness.ok:
        return "beat queues a retry every 30 s."
    missing = [
        name
        for name, alive in (("worker", liveness.workers_alive), ("beat", liveness.beat_alive))
        if not alive
    ]
    return f"no {' and no '.join(missing)} is alive, so nothing retries it until one runs."


POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Force a stale synthetic backlog entry for a planner, evaluate and deliver at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--planner", required=True, help="Planner slug, e.g. vision.")
        parser.add_argument(
            "--wait-ack",
            type=positive_seconds,
            default=None,
            metavar="SECONDS",
            help="Wait this long for the acknowledgement; exit 3 if none arrives.",
        )
        parser.add_argument(
            "--resolve",
            action="store_true",
            help="Clear the synthetic entry so the alert resolves (sends one resolved notice).",
        )
        parser.add_argument("--actor", default="trigger_synthetic_alert")

    def handle(self, *args: Any, **options: Any) -> None:
        planner = options["planner"]
        try:
            if options["resolve"]:
                result = resolve_synthetic_alert(planner, actor=options["actor"])
            else:
                result = trigger_synthetic_alert(planner, actor=options["actor"])
        except OpsAlertingError as exc:
            raise CommandError(str(exc)) from None
        self._print(result, resolving=options["resolve"])
        if result.alert is None:
            raise CommandError(result.skipped_reason or "No synthetic alert was raised.")
        wait = options["wait_ack"]
        if options["resolve"]:
            self._require_resolved_notice(result)
            return
        delivery = result.delivery
        if delivery is None:
            raise CommandError(f"The synthetic alert was not delivered: {result.skipped_reason}.")
        if delivery.status == Delivery.Status.DEAD:
            raise CommandError(f"Delivery failed for good: {delivery.last_error}")
        if delivery.status != Delivery.Status.SENT and wait is None:
            raise CommandError(
                f"Delivery not confirmed yet ({delivery.last_error}); {who_retries()} "
                "Check the admin, or run again with --wait-ack."
            )
        if wait is None:
            return
        if not self._wait_for_ack(result.alert, wait):
            self.stderr.write(self.style.ERROR(f"No acknowledgement within {wait:g} s."))
            raise SystemExit(EXIT_ACK_TIMEOUT)
        self._report_ack(result.alert)

    def _report_ack(self, alert: Alert) -> None:
        """Say which channel acknowledged; exit 4 when it does not reach the route's people."""
        alert.refresh_from_db()
        line = (
            f"Acknowledged by {alert.acknowledged_by or 'someone'} via the "
            f"{alert.acknowledged_via} channel at {alert.acknowledged_at:%H:%M:%S} UTC"
        )
        if alert.acknowledged_via in Alert.RECIPIENT_CHANNELS:
            self.stdout.write(self.style.SUCCESS(line + " (the target channel)."))
            return
        self.stderr.write(
            self.style.ERROR(
                f"{line}: that is not the target channel, so it is no evidence the route's "
                "recipients got the alert. Acknowledge the next drill through the link in "
                "the notification (or the channel's own acknowledgement)."
            )
        )
        raise SystemExit(EXIT_ACK_ELSEWHERE)

    def _require_resolved_notice(self, result: SyntheticResult) -> None:
        """The drill is closed only when the receiver has been told the alert resolved."""
        alert = result.alert
        assert alert is not None
        alert.refresh_from_db()
        if alert.delivered_status == Alert.Status.RESOLVED:
            return
        delivery = result.delivery
        if delivery is None:
            raise CommandError(f"The resolved notice was not delivered: {result.skipped_reason}.")
        raise CommandError(
            f"The resolved notice was not delivered ({delivery.status}: "
            f"{delivery.last_error or 'no answer'}); {who_retries()}"
        )

    def _print(self, result: SyntheticResult, *, resolving: bool = False) -> None:
        alert = result.alert
        write = self.stdout.write
        write(f"planner:       {result.planner}")
        if resolving:
            entries = "entry" if result.cleared == 1 else "entries"
            write(f"cleared:       {result.cleared} synthetic backlog {entries}")
        if alert is not None:
            write(f"alert id:      {alert.alert_id}")
            write(f"dedup key:     {alert.dedup_key}")
            write(f"alert status:  {alert.status}")
        delivery = result.delivery
        if delivery is not None:
            write(f"delivery:      {delivery.status} (webhook-id {delivery.webhook_id})")
            write(f"channel:       {delivery.channel}")
            write(f"webhook URL:   {mask_url(delivery.webhook_url)}")
            write(f"routing key:   {shown_routing_key(delivery.channel, delivery.routing_key)}")
            write(f"response code: {delivery.response_code or '-'}")
            if delivery.last_error:
                write(f"last error:    {delivery.last_error}")
            if delivery.status == Delivery.Status.FAILED and delivery.next_attempt_at:
                write(f"next attempt:  {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC")
        else:
            write(f"delivery:      none ({result.skipped_reason})")
        if result.ack_url:
            write(f"ack URL:       {result.ack_url}")

    def _wait_for_ack(self, alert: Alert, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        self.stdout.write(f"Waiting up to {seconds:g} s for the acknowledgement...")
        while True:
            status = Alert.objects.filter(pk=alert.pk).values_list("status", flat=True).first()
            if status == Alert.Status.ACKNOWLEDGED:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.05)))
