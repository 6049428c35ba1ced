"""Shared pieces of the Ops alerting tests: a real webhook receiver on 127.0.0.1, fixed alerts.

The receiver is a threaded ``http.server`` on an ephemeral port: deliveries go over a real
socket, with real headers, so signatures and retries are tested as a receiver would see them.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from planners.health import HealthAlert, Severity

SIGNING_SECRET = "whsec_" + base64.b64encode(b"ops-alerting-test-secret-32bytes").decode()


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers with queued status codes (then ``default_status``)."""

    server: ThreadingHTTPServer | None = None
    port: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_request: Any = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    received = ReceivedRequest(self.path, dict(self.headers.items()), body)
                    receiver.requests.append(received)
                    status = (
                        receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                    )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope")
                if receiver.on_request is not None:
                    receiver.on_request(received)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def posts(self, path: str | None = None) -> list[ReceivedRequest]:
        return [r for r in self.requests if path is None or r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def alerting(settings: Any, receiver: Receiver) -> Any:
    """Ops alerting enabled, pointing at the receiver, signed, no debounce surprises."""
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = receiver.url("/default")
    settings.OPS_ALERTING_ROUTING_KEY = "ops-default"
    settings.OPS_ALERTING_SIGNING_SECRET = SIGNING_SECRET
    settings.OPS_ALERTING_DEBOUNCE_SECONDS = "300"
    settings.OPS_ALERTING_REPEAT_SECONDS = "14400"
    settings.OPS_ALERTING_SEVERITY_FILTER = ""
    settings.OPS_ALERTING_ROUTES = ""
    settings.OPS_ALERTING_SLO_THRESHOLDS = ""
    settings.OPS_ALERTING_TIMEOUT_SECONDS = "5"
    settings.OPS_ALERTING_MAX_ATTEMPTS = "3"
    settings.PUBLIC_BASE_URL = "http://ops.example.test"
    return settings


STALE = HealthAlert(
    id="backlog:stale",
    severity=Severity.WARNING,
    title="2 backlog items stale",
    description="In progress for more than 2 h: outline-core-conflicts, chapter-1-blueprint.",
    planner="chapter-architect",
    plan_id=7,
    backlog_id="outline-core-conflicts",
)
FAILURES = HealthAlert(
    id="planner:recent-failures",
    severity=Severity.ERROR,
    title="3 failed planner runs",
    description="scene-weaver failed 3 times in the last 24 h.",
    planner="scene-weaver",
)
NO_EXECUTIONS = HealthAlert(
    id="planner:no-executions",
    severity=Severity.INFO,
    title="No planner has run yet",
    description="Nothing has run.",
)


def report(*alerts: HealthAlert, status: str = "degraded") -> SimpleNamespace:
    """A stand-in for ``PlannerHealthReport`` carrying only what evaluation reads."""
    return SimpleNamespace(status=status, alerts=list(alerts))
