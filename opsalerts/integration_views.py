"""Inbound webhooks from the channels: ``POST /integrations/pagerduty/`` (PagerDuty v3
webhooks) and ``POST /integrations/slack/actions`` (Slack interactivity).

Each is on only when its secret is set, checks the signature on the raw body before reading
it, and answers fast (PagerDuty and Slack both give up after a few seconds): a bad signature is
401 and changes nothing; an event about an alert we do not know is 200 and a log line, so the
sender stops retrying.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from opsalerts.config import load_ops_alerting_config
from opsalerts.inbound import pagerduty_event, slack_action
from opsalerts.signatures import pagerduty_signature_is_valid, slack_signature_is_valid
from opsalerts.transports.slack import ACK_ACTION_ID

logger = logging.getLogger(__name__)


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain")


@csrf_exempt
@require_POST
def pagerduty_webhook(request: HttpRequest) -> HttpResponse:
    secret = load_ops_alerting_config().pagerduty_webhook_secret
    if not secret:
        return _text(404, "PagerDuty webhooks are off: PAGERDUTY_WEBHOOK_SECRET is not set.")
    header = request.headers.get("X-PagerDuty-Signature", "")
    if not pagerduty_signature_is_valid(secret, request.body, header):
        logger.warning("Refused a PagerDuty webhook with a missing or wrong signature")
        return _text(401, "invalid signature")
    envelope = _json_object(request.body)
    if envelope is None:
        return _text(400, "expected a JSON object")
    logger.info("PagerDuty webhook: %s", pagerduty_event(envelope))
    return _text(200, "ok")


@csrf_exempt
@require_POST
def slack_actions(request: HttpRequest) -> HttpResponse:
    secret = load_ops_alerting_config().slack_signing_secret
    if not secret:
        return _text(404, "Slack actions are off: SLACK_SIGNING_SECRET is not set.")
    valid = slack_signature_is_valid(
        secret,
        request.body,
        timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
        signature=request.headers.get("X-Slack-Signature", ""),
    )
    if not valid:
        logger.warning("Refused a Slack action with a missing, wrong or stale signature")
        return _text(401, "invalid signature")
    form = parse_qs(request.body.decode("utf-8", "replace"))
    payload = _json_object(form.get("payload", [""])[0].encode())
    if payload is None:
        return _text(400, "expected a payload form field holding a JSON object")
    logger.info("Slack action: %s", slack_action(payload, action_id=ACK_ACTION_ID))
    return HttpResponse(status=200)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
