"""A webhook receiver for the delivery benchmark: answers 204 to every POST, counts them.

Run as ``python -m cognition.benchmarks.receiver``; it prints its port on the first line.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 like any production receiver (nginx, a load balancer, a chat service): a client
    # that keeps its connection alive can reuse it; one that does not pays a handshake per POST.
    protocol_version = "HTTP/1.1"
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        CountingHandler.received += 1
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        body = str(CountingHandler.received).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        sys.exit(0)


if __name__ == "__main__":
    main()
