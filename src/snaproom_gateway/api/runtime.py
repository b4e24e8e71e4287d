"""`Runtime`: everything the service holds for its whole life, one typed field per resource.

The lifespan (app.py) builds it top to bottom and releases it in reverse on its AsyncExitStack;
`app.state.runtime` holds it and deps.py names one `Annotated` dependency per field. Fields
without a default are set by the lifespan as each part starts (reading one earlier is a bug, and
raises AttributeError as an unset attribute would). Platform and domain modules never import this
module: each lifespan part takes the runtime through a small Protocol of what it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from snaproom_gateway.analytics.views import ProfileViewCounter
from snaproom_gateway.cache.http import FastPathRoutes
from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.runtime import EventsRuntime
from snaproom_gateway.events.subscribers import Subscribers
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.infra.ratelimit import RequestLimiter
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.infra.schema_guard import SchemaGuard
from snaproom_gateway.messages.recent_store import RecentMessages
from snaproom_gateway.presence.store import PresenceStore
from snaproom_gateway.realtime.bus import RealtimeBus
from snaproom_gateway.realtime.hub import LocalHub
from snaproom_gateway.resilience.admission import AdmissionGate
from snaproom_gateway.resilience.registry import BreakerRegistry

HealthProbe = Callable[[], dict[str, Any]]


@dataclass(eq=False)
class Runtime:
    settings: Settings
    # The domains' event subscribers, in the order the app included them (api/subscriptions.py).
    subscribers: Subscribers
    started_at: float
    # The cached GET routes answered before the middleware stack (None: CACHE_HTTP_FAST_PATH off).
    cache_fast_path: FastPathRoutes | None = None
    # /api/health/full's components: name -> a sync probe (called inline).
    health_components: dict[str, HealthProbe] = field(default_factory=dict)
    # --- wire protocols (redis and kafka are None in the embedded mode) ---
    engine: AsyncEngine = field(init=False)
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    schema_guard: SchemaGuard = field(init=False)
    redis: RedisClients | None = field(init=False)
    kafka: KafkaConnection | None = field(init=False)
    # --- platform ---
    breakers: BreakerRegistry = field(init=False)
    database_gate: AdmissionGate = field(init=False)
    metrics: CollectorRegistry | None = field(init=False)  # None when METRICS_ENABLED=false
    cache: TaggedCache = field(init=False)
    realtime_hub: LocalHub = field(init=False)
    realtime_bus: RealtimeBus = field(init=False)
    events: EventsRuntime = field(init=False)
    # The process's one semaphore for event-handler batches, shared by every dispatcher.
    handler_slots: asyncio.Semaphore = field(init=False)
    # --- domains ---
    presence: PresenceStore = field(init=False)
    recent_messages: RecentMessages = field(init=False)
    rate_limiter: RequestLimiter = field(init=False)
    profile_views: ProfileViewCounter = field(init=False)
