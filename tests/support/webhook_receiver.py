"""A loopback webhook receiver for end-to-end tests.

An http.server on 127.0.0.1 (port 0: the OS picks a free one) served from a daemon thread. It
records every POST (path, headers, JSON body) and can be told to fail the first N POSTs of a
path with a status, so retries can be observed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON, or the raw text when it is not JSON
    status: int  # what the receiver answered
    at: float


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._failures: dict[str, tuple[int, int]] = {}  # path -> (remaining failures, status)
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                status = receiver._answer(self.path)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body, status, time.monotonic()))
                    receiver._lock.notify_all()
                payload = b'{"ok": true}' if status < 300 else b'{"error": "induced failure"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    # Control -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_first(self, path: str, count: int, status: int = 500) -> None:
        """Answer the next `count` POSTs to path with `status`, then 200."""
        with self._lock:
            self._failures[path] = (count, status)

    def _answer(self, path: str) -> int:
        with self._lock:
            remaining, status = self._failures.get(path, (0, 200))
            if remaining > 0:
                self._failures[path] = (remaining - 1, status)
                return status
        return 200

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Reading -------------------------------------------------------------------

    def bodies(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received if path is None or r.path == path]

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 20.0, count: int = 1) -> list[Received]:
        """Wait until at least `count` recorded requests satisfy predicate; return them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.received if predicate(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"webhook receiver: {len(found)} of {count} expected requests after {timeout}s; "
                        f"received {[(r.path, r.status, r.body) for r in self.received]}"
                    )
                self._lock.wait(remaining)
