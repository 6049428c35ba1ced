"""Loopback fakes of the native Ops channels, each enforcing its service's documented contract.

- PagerDuty Events API v2 (``POST /v2/enqueue``): 202 ``{"status": "success", "message":
  "Event processed", "dedup_key": ...}``; 400 ``{"status": "invalid event", "message": "Event
  object is invalid", "errors": [...]}`` for a missing or wrong field (routing key of 32
  characters, ``event_action`` one of trigger/acknowledge/resolve, a trigger's ``payload`` with
  ``summary``, ``source`` and a ``severity`` of critical/error/warning/info).
- Slack incoming webhooks: 200 ``ok``; 400 ``no_text`` without ``text`` or ``blocks``; 400
  ``invalid_blocks`` for a block Slack would refuse (unknown type, a header that is not
  plain text or longer than 150 characters, more than 10 section fields, a button without
  plain-text text or with a URL over 3000 characters).
- Teams Workflows: 202 for a message with one Adaptive Card attachment; 400 otherwise.

``force`` queues answers (status, body) that are sent instead, in order, for outages and
throttling.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import ReceivedRequest, serve_in_thread, stop_serving

Answer = tuple[int, str]
PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}
SLACK_BLOCKS = {"header", "section", "actions", "context", "divider", "image", "rich_text"}


@dataclass
class ChannelFake:
    """A threaded loopback server that judges every POST with ``judge``."""

    judge: Callable[[ReceivedRequest], Answer]
    content_type: str = "application/json"
    requests: list[ReceivedRequest] = field(default_factory=list)
    forced: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None
    on_request: Callable[[ReceivedRequest], None] | None = None

    def start(self) -> ChannelFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = ReceivedRequest(self.path, dict(self.headers.items()), body)
                with fake.lock:
                    fake.requests.append(received)
                    forced = fake.forced.pop(0) if fake.forced else None
                status, text = forced or fake.judge(received)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", fake.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if fake.on_request is not None:
                    fake.on_request(received)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = serve_in_thread(self.server)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            stop_serving(self.server, self.thread)

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def force(self, *answers: Answer) -> None:
        self.forced.extend(answers)

    def bodies(self) -> list[Any]:
        return [request.json for request in self.requests]


# --- PagerDuty Events API v2 -------------------------------------------------------------------


def pagerduty_errors(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors = []
    if len(str(event.get("routing_key", ""))) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in PD_ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    if action in {"acknowledge", "resolve"} and not event.get("dedup_key"):
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or blank"]
        errors.extend(
            f"'payload.{name}' is missing or blank"
            for name in ("summary", "source", "severity")
            if not payload.get(name)
        )
        if payload.get("severity") and payload["severity"] not in PD_SEVERITIES:
            errors.append("'payload.severity' is invalid (must be critical, error, warning, info)")
        if len(str(payload.get("summary", ""))) > 1024:
            errors.append("'payload.summary' is too long (maximum 1024 characters)")
    return errors


def judge_pagerduty(request: ReceivedRequest) -> Answer:
    if request.path != "/v2/enqueue":
        return 404, json.dumps({"status": "not found"})
    try:
        event = request.json
    except ValueError:
        return 400, json.dumps({"status": "invalid event", "message": "Invalid JSON"})
    errors = pagerduty_errors(event)
    if errors:
        answer = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        return 400, json.dumps(answer)
    answer = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
    return 202, json.dumps(answer)


def pagerduty_fake() -> ChannelFake:
    return ChannelFake(judge_pagerduty).start()


# --- Slack incoming webhooks -------------------------------------------------------------------


def _plain_text(value: Any, limit: int) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "plain_text"
        and 0 < len(str(value.get("text", ""))) <= limit
    )


def _text_object(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in {"plain_text", "mrkdwn"}
        and 0 < len(str(value.get("text", ""))) <= 3000
    )


def slack_block_is_valid(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in SLACK_BLOCKS:
        return False
    kind = block["type"]
    if kind == "header":
        return _plain_text(block.get("text"), 150)
    if kind == "section":
        fields = block.get("fields", [])
        has_text = "text" in block and _text_object(block["text"])
        good_fields = isinstance(fields, list) and len(fields) <= 10
        good_fields = good_fields and all(_text_object(f) for f in fields)
        return (has_text or bool(fields)) and good_fields
    if kind == "context":
        elements = block.get("elements", [])
        return 0 < len(elements) <= 10 and all(_text_object(e) for e in elements)
    if kind == "actions":
        elements = block.get("elements", [])
        return 0 < len(elements) <= 25 and all(_button_is_valid(e) for e in elements)
    return True


def _button_is_valid(element: Any) -> bool:
    return (
        isinstance(element, dict)
        and element.get("type") == "button"
        and _plain_text(element.get("text"), 75)
        and len(str(element.get("url", ""))) <= 3000
        and len(str(element.get("value", ""))) <= 2000
        and len(str(element.get("action_id", ""))) <= 255
    )


def judge_slack(request: ReceivedRequest) -> Answer:
    try:
        message = request.json
    except ValueError:
        return 400, "invalid_payload"
    if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
        return 400, "no_text"
    blocks = message.get("blocks", [])
    if not isinstance(blocks, list) or not all(slack_block_is_valid(b) for b in blocks):
        return 400, "invalid_blocks"
    return 200, "ok"


def slack_fake() -> ChannelFake:
    return ChannelFake(judge_slack, content_type="text/html").start()


# --- Teams Workflows ---------------------------------------------------------------------------


def judge_teams(request: ReceivedRequest) -> Answer:
    try:
        message = request.json
    except ValueError:
        return 400, "Invalid JSON"
    attachments = message.get("attachments") if isinstance(message, dict) else None
    if message.get("type") != "message" or not isinstance(attachments, list) or not attachments:
        return 400, "Expected a message with attachments"
    card = attachments[0]
    if card.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return 400, "Attachment is not an Adaptive Card"
    content = card.get("content") or {}
    if content.get("type") != "AdaptiveCard" or not isinstance(content.get("body"), list):
        return 400, "Adaptive Card without a body"
    for action in content.get("actions", []):
        if action.get("type") == "Action.OpenUrl" and not str(action.get("url", "")).startswith(
            ("http://", "https://")
        ):
            return 400, "Action.OpenUrl needs an absolute URL"
    return 202, ""


def teams_fake() -> ChannelFake:
    return ChannelFake(judge_teams, content_type="text/plain").start()
