"""Fake HTTP servers on 127.0.0.1 for tests: a webhook receiver and an OpenAI-style chat API.

Each is a threaded ``http.server`` on an ephemeral port, so requests go over a real socket with
real headers. The fixtures that start and stop them are in ``conftest.py``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNING_SECRET = "whsec_" + base64.b64encode(b"ops-alerting-test-secret-32bytes").decode()

# ``shutdown()`` waits for ``serve_forever`` to notice, which it does once per poll interval;
# the default half second would be spent in every test's teardown.
POLL_SECONDS = 0.01


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True)
    thread.start()
    return thread


def stop_serving(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- the Ops alerting webhook target ----------------------------------------------------------


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
    thread: threading.Thread | None = None
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
        self.port = self.server.server_address[1]
        self.thread = serve_in_thread(self.server)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            stop_serving(self.server, self.thread)
            self.server = None
            self.thread = None

    def posts(self, path: str | None = None) -> list[ReceivedRequest]:
        return [r for r in self.requests if path is None or r.path == path]


# --- an OpenAI-compatible chat completions API ------------------------------------------------


@dataclass
class Canned:
    status: int = 200
    body: str | dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(text: str, *, prompt_tokens: int = 42, completion_tokens: int = 7) -> Canned:
    return Canned(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini-2024",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


class ChatServer:
    """Answers each POST with the next canned response (the last one repeats)."""

    def __init__(self) -> None:
        self.script: list[Canned] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)}
                )
                index = min(len(server.requests) - 1, len(server.script) - 1)
                canned = server.script[index]
                if canned.delay:
                    time.sleep(canned.delay)
                body = canned.body if isinstance(canned.body, str) else json.dumps(canned.body)
                data = body.encode()
                try:
                    self.send_response(canned.status)
                    for name, value in canned.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread: threading.Thread | None = None

    def respond(self, *canned: Canned) -> None:
        self.script = list(canned)

    def start(self) -> ChatServer:
        self.thread = serve_in_thread(self.httpd)
        return self

    def stop(self) -> None:
        if self.thread is not None:
            stop_serving(self.httpd, self.thread)
            self.thread = None
