"""The pipeline benchmark's model: an OpenAI-compatible ``POST /chat/completions`` on 127.0.0.1.

Run as ``python -m cognition.benchmarks.chat_server`` with its configuration as one JSON object
on stdin (``latency`` seconds a call, ``rate_per_second`` or null, and ``replies``: a prompt
marker to the reply for the planner whose prompt holds it); it prints its port on the first
line. It runs in its own process so that sixty-four sleeping calls do not share our GIL.

Each call sleeps ``latency`` and answers the reply for its planner. Above ``rate_per_second``
answered calls in the trailing second it answers 429 with a ``Retry-After`` of the time until
a call leaves that second, as providers do. ``GET /stats`` reports what reached it.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatModel:
    """What the server answers and what it saw; every method holds the lock."""

    def __init__(self, latency: float, rate_per_second: int | None, replies: dict[str, str]):
        self.latency = latency
        self.rate_per_second = rate_per_second
        self.replies = replies
        self.lock = threading.Lock()
        self.accepted: deque[float] = deque()
        self.answered = 0
        self.limited = 0
        self.unrecognised = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_call: float | None = None
        self.last_answer: float | None = None
        self.by_phase: dict[str, int] = {}

    def arrive(self, prompt: str) -> tuple[int, str, float | None]:
        """(status, reply text, Retry-After) for a call that arrives now."""
        now = time.time()
        with self.lock:
            if self.first_call is None:
                self.first_call = now
            marker = next((m for m in self.replies if m in prompt), None)
            if marker is None:
                self.unrecognised += 1
                return 400, "no planner prompt recognised", None
            while self.accepted and self.accepted[0] <= now - 1.0:
                self.accepted.popleft()
            if self.rate_per_second is not None and len(self.accepted) >= self.rate_per_second:
                self.limited += 1
                wait = self.accepted[0] + 1.0 - now
                return 429, "Rate limit reached", math.ceil(wait * 10) / 10
            self.accepted.append(now)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.by_phase[marker] = self.by_phase.get(marker, 0) + 1
            return 200, self.replies[marker], None

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.answered += 1
            self.last_answer = time.time()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "answered": self.answered,
                "limited": self.limited,
                "limited_after_first": max(0, self.limited - 1),
                "unrecognised": self.unrecognised,
                "max_in_flight": self.max_in_flight,
                "first_call": self.first_call,
                "last_answer": self.last_answer,
                "by_marker": dict(self.by_phase),
            }


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
    }


def handler_for(model: ChatModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            status, text, retry_after = model.arrive(prompt)
            if status != 200:
                headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
                self._send(status, {"error": {"message": text}}, headers)
                return
            try:
                time.sleep(model.latency)
                self._send(200, completion(text), {})
            finally:
                model.leave()

        def do_GET(self) -> None:
            self._send(200, model.stats(), {})

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


class ChatHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Every phase thread may connect at once: the default backlog of 5 would refuse some.
    request_queue_size = 256


def main() -> None:
    config = json.loads(sys.stdin.readline())
    model = ChatModel(config["latency"], config["rate_per_second"], config["replies"])
    server = ChatHTTPServer(("127.0.0.1", 0), handler_for(model))
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
