"""HTTP request metrics: a pure ASGI middleware, and the fast path's counter.

Labels are the route template (`/api/users/{user_id}`, never the raw path: bounded
cardinality), the method and the status. Requests that match no route count as `<unmatched>`.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snaproom_gateway.metrics.core import REGISTRY

REQUESTS = Counter("snaproom_http_requests", "HTTP requests answered by the app",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("snaproom_http_request_duration_seconds",
                    "Time from the request reaching the app to the end of its answer",
                    ["route", "method"], registry=REGISTRY,
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                             2.5, 5.0, 10.0))
FAST_PATH = Counter("snaproom_http_fast_path_answers", "Cached GETs answered by the HTTP "
                    "protocol itself, before the app (cache/http_protocol.py)", ["status"],
                    registry=REGISTRY)

# status -> answers since the last flush: a dict increment is all the fast path pays
# (a prometheus-client inc takes a lock and, in multiprocess mode, writes a file).
_fast_path_answers: dict[int, int] = {}


def count_fast_path_answer(status: int = 200) -> None:
    """Call once per answer of the fast path. Flushed into FAST_PATH at each sample."""
    _fast_path_answers[status] = _fast_path_answers.get(status, 0) + 1


def flush_fast_path() -> None:
    for status in list(_fast_path_answers):
        count = _fast_path_answers.pop(status, 0)
        if count:
            FAST_PATH.labels(str(status)).inc(count)


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            key = (getattr(route, "path", None) or "<unmatched>", scope["method"], status)
            series = _series.get(key)
            if series is None:
                series = _series[key] = _new_series(*key)
            series[0].inc()
            series[1].observe(time.perf_counter() - started)


# (route, method, status) -> its counter and histogram children: `labels()` takes a lock and
# checks its arguments on every call; a dict lookup is a fraction of that. Bounded: the routes
# are templates, the statuses few.
_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _new_series(route: str, method: str, status: int) -> tuple[Any, Any]:
    return REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method)
