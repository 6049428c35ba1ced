"""What PagerDuty and Slack tell us back: acknowledgements made there, and PagerDuty's
resolves, recorded through the same action as every other acknowledgement.

The views (``opsalerts.integration_views``) check signatures and parse; these functions find
the alert and act. Each returns one line saying what happened, which the view logs.
"""

from __future__ import annotations

import logging
from typing import Any

from opsalerts.ack import AckLinkError, read_ack_token
from opsalerts.acknowledgement import acknowledge_alert
from opsalerts.models import Alert, AlertEvent

logger = logging.getLogger(__name__)

ACTOR_MAX = 120


def pagerduty_event(envelope: dict[str, Any]) -> str:
    """One v3 webhook event: ``incident.acknowledged`` acknowledges our alert (channel
    ``pagerduty``, the PagerDuty user as actor); ``incident.resolved`` is written on the alert's
    history. The incident is our alert by its incident key or alert key (our dedup key)."""
    event = _object(envelope.get("event"))
    kind = str(event.get("event_type", ""))
    data = _object(event.get("data"))
    if kind not in {"incident.acknowledged", "incident.resolved"}:
        return f"ignored PagerDuty event {kind or '(no event_type)'}"
    key = str(data.get("incident_key") or data.get("alert_key") or "")
    alert = Alert.objects.filter(dedup_key=key).first() if key else None
    if alert is None:
        return f"PagerDuty {kind} for incident {data.get('id', '?')}: no alert with key {key!r}"
    agent = _object(event.get("agent"))
    who = str(agent.get("summary") or "someone")[:ACTOR_MAX]
    if kind == "incident.acknowledged":
        done = acknowledge_alert(alert, actor=f"{who} (PagerDuty)", channel=Alert.Channel.PAGERDUTY)
        return f"{alert.dedup_key} {'acknowledged' if done else 'was not firing'} by {who}"
    AlertEvent.objects.create(
        alert=alert,
        kind="resolved-in-pagerduty",
        actor=who,
        channel=Alert.Channel.PAGERDUTY,
        detail={"incident": data.get("id"), "event": event.get("id")},
    )
    return f"{alert.dedup_key}: PagerDuty incident resolved by {who}"


def slack_action(payload: dict[str, Any], *, action_id: str) -> str:
    """A click on the Acknowledge button: its value is the ack link's token, so the same rules
    hold (the alert, its episode, the link's lifetime), and the Slack user is the actor."""
    actions = payload.get("actions")
    clicked = [_object(a) for a in actions] if isinstance(actions, list) else []
    action = next((a for a in clicked if a.get("action_id") == action_id), None)
    if payload.get("type") != "block_actions" or action is None:
        return "ignored Slack interaction"
    try:
        link = read_ack_token(str(action.get("value", "")))
    except AckLinkError as exc:
        return f"Slack acknowledgement refused: {exc.reason}"
    if link.stale_episode:
        return f"{link.alert.dedup_key}: the button is from an earlier episode"
    user = _object(payload.get("user"))
    who = str(user.get("name") or user.get("username") or user.get("id") or "someone")
    actor = f"{who[:ACTOR_MAX]} (Slack)"
    done = acknowledge_alert(link.alert, actor=actor, channel=Alert.Channel.SLACK)
    return f"{link.alert.dedup_key} {'acknowledged' if done else 'was not firing'} by {who}"


def _object(value: Any) -> dict[str, Any]:
    """A JSON object from an untrusted document, or an empty one."""
    return value if isinstance(value, dict) else {}
