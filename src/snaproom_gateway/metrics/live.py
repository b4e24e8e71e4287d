"""Values read from the running objects, written into metrics by `sample(state)`.

Called before each scrape by the worker answering it and, with several workers, by each worker
every METRICS_SAMPLE_INTERVAL: in multiprocess mode a scrape reads every worker's files, so each
worker keeps its own values there fresh. Gauges say how to combine workers (`livesum`: each
worker's own, e.g. open sockets; `livemax`: the same value seen by all, e.g. the outbox backlog,
or the worst, e.g. a breaker state). Counters kept as plain ints on the hot path (the cache's)
are added as deltas, so they stay counters, summed across workers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from prometheus_client import Counter, Gauge

from snaproom_gateway.metrics.core import REGISTRY
from snaproom_gateway.metrics.http import flush_fast_path

if TYPE_CHECKING:  # annotations only: these packages import metrics themselves
    from sqlalchemy.ext.asyncio import AsyncEngine

    from snaproom_gateway.cache.tagged import TaggedCache
    from snaproom_gateway.events.runtime import EventsRuntime
    from snaproom_gateway.realtime.hub import LocalHub
    from snaproom_gateway.resilience.registry import BreakerRegistry

OUTBOX_PENDING = Gauge("snaproom_outbox_pending_rows", "Outbox rows waiting for the relay",
                       registry=REGISTRY, multiprocess_mode="livemax")
OUTBOX_OLDEST_AGE = Gauge("snaproom_outbox_oldest_pending_age_seconds",
                          "Age of the oldest pending outbox row (0 when none)",
                          registry=REGISTRY, multiprocess_mode="livemax")
OUTBOX_DEAD = Gauge("snaproom_outbox_dead_rows", "Outbox rows Kafka can never take (dead)",
                    registry=REGISTRY, multiprocess_mode="livemax")
CONSUMER_LAG = Gauge("snaproom_consumer_lag", "Messages behind the partition's end, by "
                     "consumer group and partition", ["group", "topic", "partition"],
                     registry=REGISTRY, multiprocess_mode="livemax")
DB_POOL_IN_USE = Gauge("snaproom_db_pool_in_use", "Database connections checked out of the "
                       "pool", registry=REGISTRY, multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge("snaproom_db_pool_size", "Database connections held by the pool",
                     registry=REGISTRY, multiprocess_mode="livesum")
WEBSOCKETS_OPEN = Gauge("snaproom_websockets_open", "Open WebSocket connections",
                        registry=REGISTRY, multiprocess_mode="livesum")
CACHE_REQUESTS = Counter("snaproom_cache_requests", "Cache reads by key prefix and result",
                         ["prefix", "result"], registry=REGISTRY)
CACHE_HITS_BY_TIER = Counter("snaproom_cache_hits_by_tier", "Cache hits by tier (l1: the "
                             "process's memory, redis: the shared store)", ["tier"],
                             registry=REGISTRY)

# Breakers: in one process the BreakerCollector (resilience/metrics.py) reads them at scrape
# time; with several workers these carry the same names through the workers' files. Not in
# REGISTRY: they would clash with that collector.
BREAKER_STATE = Gauge("snaproom_breaker_state", "Breaker state: 0 closed, 1 half-open, 2 open "
                      "(the worst worker's)", ["dependency"], registry=None,
                      multiprocess_mode="livemax")
BREAKER_CONSECUTIVE = Gauge("snaproom_breaker_consecutive_failures", "Infrastructure failures "
                            "since the last success", ["dependency"], registry=None,
                            multiprocess_mode="livemax")
BREAKER_COUNTERS = {
    "failures": Counter("snaproom_breaker_failures", "Calls that failed on infrastructure",
                        ["dependency"], registry=None),
    "rejected": Counter("snaproom_breaker_rejected", "Calls refused while the breaker was open",
                        ["dependency"], registry=None),
    "opened": Counter("snaproom_breaker_opened", "Times the breaker opened", ["dependency"],
                      registry=None),
}


class SampledHost(Protocol):
    """What the sampler reads of the app's runtime (api/runtime.py)."""

    @property
    def events(self) -> EventsRuntime: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def realtime_hub(self) -> LocalHub: ...
    @property
    def cache(self) -> TaggedCache: ...
    @property
    def breakers(self) -> BreakerRegistry: ...


class LiveSampler:
    """Per app: remembers what it already added to the counters and which lag series it set."""

    def __init__(self, runtime: SampledHost, *, breakers: bool) -> None:
        self.runtime = runtime
        self.breakers = breakers
        self._added: dict[tuple[str, ...], int] = {}
        self._lag_series: set[tuple[str, str, str]] = set()

    def _add(self, counter: Counter, labels: tuple[str, ...], total: int) -> None:
        """Bring `counter{labels}` up to `total` (a running total kept elsewhere)."""
        key = (counter._name, *labels)
        delta = total - self._added.get(key, 0)
        if delta > 0:
            counter.labels(*labels).inc(delta)
        self._added[key] = total

    def sample(self) -> None:
        flush_fast_path()
        runtime = self.runtime
        self._outbox(runtime.events)
        self._lag(runtime.events)
        pool = runtime.engine.pool
        if hasattr(pool, "checkedout"):  # not every pool class counts its connections
            DB_POOL_IN_USE.set(pool.checkedout())
            DB_POOL_SIZE.set(pool.checkedin() + pool.checkedout())
        WEBSOCKETS_OPEN.set(runtime.realtime_hub.count())
        counters = runtime.cache.counters
        for prefix, (hits, misses) in list(counters.by_prefix.items()):
            self._add(CACHE_REQUESTS, (prefix, "hit"), hits)
            self._add(CACHE_REQUESTS, (prefix, "miss"), misses)
        self._add(CACHE_HITS_BY_TIER, ("l1",), counters.l1_hits)
        self._add(CACHE_HITS_BY_TIER, ("redis",), counters.l2_hits)
        if self.breakers:
            self._breakers(runtime.breakers)

    def _outbox(self, events: EventsRuntime) -> None:
        relay = events.relay
        if relay.pending is None:
            return
        OUTBOX_PENDING.set(relay.pending)
        OUTBOX_DEAD.set(relay.dead or 0)
        oldest = relay.oldest_pending
        OUTBOX_OLDEST_AGE.set((datetime.now(UTC) - oldest).total_seconds()
                              if oldest is not None and relay.pending else 0)

    def _lag(self, events: EventsRuntime) -> None:
        seen: set[tuple[str, str, str]] = set()
        for runner in events.runners:
            for (topic, partition), lag in runner.partition_lag().items():
                labels = (runner.group_id or runner.dispatcher.group, topic, str(partition))
                CONSUMER_LAG.labels(*labels).set(lag)
                seen.add(labels)
        for labels in self._lag_series - seen:  # revoked: another worker or instance owns it
            CONSUMER_LAG.labels(*labels).set(0)
        self._lag_series = seen | self._lag_series

    def _breakers(self, registry: BreakerRegistry) -> None:
        from snaproom_gateway.resilience.metrics import STATE_VALUES

        for name, breaker in registry.breakers.items():
            BREAKER_STATE.labels(name).set(STATE_VALUES[breaker.state])
            BREAKER_CONSECUTIVE.labels(name).set(breaker.consecutive_failures)
            for field, counter in BREAKER_COUNTERS.items():
                self._add(counter, (name,), getattr(breaker.totals, field))
