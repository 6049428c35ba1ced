"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat protocol, for the ``openai`` backend.

Import the ``chat_server`` fixture into a test module (listing it in the module's ``__all__``).
The server answers each POST with the next canned response (the last one repeats), or with what
``answer`` returns for the request when it is set; it counts the calls in flight and notes when
each arrived, so tests can check what reached the provider and when.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


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
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def respond(self, *canned: Canned) -> None:
        self.script = list(canned)

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


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    thread.join(timeout=5)
