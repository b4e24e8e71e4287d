"""Breaker metrics for Prometheus, read from the breakers at scrape time (nothing on the hot path).

`GET /metrics` serves the app's own CollectorRegistry, so several apps in one process (tests) do
not share series; other parts may register their collectors on the runtime's `metrics`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from snaproom_gateway.resilience.breaker import State
from snaproom_gateway.resilience.registry import BreakerRegistry

STATE_VALUES = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class BreakerCollector(Collector):
    def __init__(self, registry: BreakerRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("snaproom_breaker_state",
                                  "Breaker state: 0 closed, 1 half-open, 2 open",
                                  labels=["dependency"])
        consecutive = GaugeMetricFamily("snaproom_breaker_consecutive_failures",
                                        "Infrastructure failures since the last success",
                                        labels=["dependency"])
        counters = {
            "failures": CounterMetricFamily("snaproom_breaker_failures",
                                            "Calls that failed on infrastructure",
                                            labels=["dependency"]),
            "rejected": CounterMetricFamily("snaproom_breaker_rejected",
                                            "Calls refused while the breaker was open",
                                            labels=["dependency"]),
            "opened": CounterMetricFamily("snaproom_breaker_opened",
                                          "Times the breaker opened", labels=["dependency"]),
            # Load, not failure: the breakers never count these (classify.is_pool_exhausted).
            "busy": CounterMetricFamily("snaproom_pool_exhausted",
                                        "Calls that found this process's pool or admission "
                                        "gate full (back-pressure)", labels=["dependency"]),
        }
        for name, breaker in self.registry.breakers.items():
            state.add_metric([name], STATE_VALUES[breaker.state])
            consecutive.add_metric([name], breaker.consecutive_failures)
            counters["failures"].add_metric([name], breaker.totals.failures)
            counters["rejected"].add_metric([name], breaker.totals.rejected)
            counters["opened"].add_metric([name], breaker.totals.opened)
            counters["busy"].add_metric([name], breaker.totals.busy)
        yield state
        yield consecutive
        yield from counters.values()


def create_registry(breakers: BreakerRegistry) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BreakerCollector(breakers))
    return registry


router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry | None = request.app.state.runtime.metrics
    if registry is None:
        return Response("metrics are disabled\n", status_code=404, media_type="text/plain")
    token = request.app.state.runtime.settings.observability.metrics_token
    if token and not hmac.compare_digest(request.headers.get("authorization", "").encode(),
                                         f"Bearer {token}".encode()):
        return JSONResponse({"detail": "metrics need Authorization: Bearer <METRICS_TOKEN>"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
