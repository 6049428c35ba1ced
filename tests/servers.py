"""Fake HTTP servers on 127.0.0.1 for tests: a webhook receiver and an OpenAI-style chat API.

Each is a threaded ``http.server`` on an ephemeral port, so requests go over a real socket with
real headers. The fixtures that start and stop them (``receiver``, ``chat_server``) are in
``conftest.py``. The chat server answers each POST with the next canned response (the last one
repeats), or with what ``answer`` returns for the request when it is set; it counts the calls in
flight and notes when each arrived, so tests can check what reached the provider and when.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
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


@dataclass(frozen=True)
class Call:
    """One request the server answered: when it arrived and when its answer went out
    (``time.time()``, comparable across processes), and the status it got."""

    arrived: float
    answered: float
    status: int


class ChatServer:
    """Answers each POST with the next canned response (the last one repeats)."""

    def __init__(self) -> None:
        self.script: list[Canned] = []
        self.answer: Callable[[dict[str, Any]], Canned] | None = None
        self.requests: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length", 0))
                request = {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(self.rfile.read(length)),
                }
                canned = server._arrive(request)
                try:
                    if canned.delay:
                        time.sleep(canned.delay)
                    self._send(canned)
                finally:
                    server._leave(Call(arrived, time.time(), canned.status))

            def _send(self, canned: Canned) -> None:
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

    def _arrive(self, request: dict[str, Any]) -> Canned:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.answer is not None:
                return self.answer(request)
            index = min(len(self.requests) - 1, len(self.script) - 1)
            return self.script[index]

    def _leave(self, call: Call) -> None:
        with self._lock:
            self.in_flight -= 1
            self.calls.append(call)
