"""Real HTTP servers on loopback for the metrics step's tests (werkzeug, in a thread).

``ScriptedServer`` answers each path with the next of the responses a test queued for it
(the last one repeats), so a test can serve one body to the first scrape and another to the
second. ``SilentListener`` (tests.conftest's) accepts connections and never answers.
"""
from __future__ import annotations

import threading
from collections import defaultdict

from werkzeug.wrappers import Request, Response

from fixtures.wsgi_server import ThreadedWsgiServer
from tests.conftest import SilentListener  # noqa: F401  (the metrics tests import it from here)

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def exposition(start_time: float = 1700000000.0, orders: float = 10, extra: str = "") -> str:
    """A small exposition Flash Green could serve: passes parse, lint and required."""
    return (
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
        "# TYPE process_start_time_seconds gauge\n"
        f"process_start_time_seconds {start_time}\n"
        "# HELP flash_green_orders_total Orders accepted, by venue.\n"
        "# TYPE flash_green_orders_total counter\n"
        f'flash_green_orders_total{{venue="ice"}} {orders}\n'
        'flash_green_orders_total{venue="powerledger"} 5\n'
        "# HELP flash_green_order_latency_seconds Time to accept an order.\n"
        "# TYPE flash_green_order_latency_seconds histogram\n"
        'flash_green_order_latency_seconds_bucket{le="0.1"} 3\n'
        'flash_green_order_latency_seconds_bucket{le="+Inf"} 4\n'
        "flash_green_order_latency_seconds_sum 0.5\n"
        "flash_green_order_latency_seconds_count 4\n"
        + extra
    )


class ScriptedServer:
    def __init__(self):
        self._responses: dict[str, list[Response]] = defaultdict(list)
        self._lock = threading.Lock()
        self.requests: list[tuple[str, dict]] = []
        self._http = ThreadedWsgiServer(self._app, "scripted-metrics")
        self._http.start()
        self.port = self._http.port
        self.url = self._http.url

    def serve(self, path: str, *responses: Response) -> None:
        """Answer ``path`` with these responses in turn; the last one repeats."""
        with self._lock:
            self._responses[path] = list(responses)

    def serve_metrics(self, *bodies: str, content_type: str = TEXT_TYPE, status: int = 200) -> None:
        self.serve("/metrics", *(Response(b, status=status, content_type=content_type) for b in bodies))

    def reset(self) -> None:
        with self._lock:
            self._responses.clear()
            self.requests.clear()

    @Request.application
    def _app(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.path, dict(request.headers)))
            queue = self._responses.get(request.path)
            if not queue:
                return Response("no response scripted\n", status=404)
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def close(self) -> None:
        self._http.stop()
