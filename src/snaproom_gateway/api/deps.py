"""Request dependencies, each named once as an `Annotated` alias, so routes read plainly.

One alias per field of the runtime (api/runtime.py), read from `app.state.runtime`. The getters
are async: FastAPI runs a plain `def` dependency in the thread pool, a hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from snaproom_gateway.analytics.views import ProfileViewCounter
from snaproom_gateway.api.runtime import Runtime
from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.runtime import EventsRuntime
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.infra.ratelimit import RequestLimiter
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.infra.schema_guard import SchemaGuard
from snaproom_gateway.messages.recent_store import RecentMessages
from snaproom_gateway.presence.store import PresenceStore
from snaproom_gateway.realtime.bus import RealtimeBus
from snaproom_gateway.realtime.hub import LocalHub
from snaproom_gateway.resilience import Guarded, require
from snaproom_gateway.resilience.admission import AdmissionGate
from snaproom_gateway.resilience.registry import BreakerRegistry


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


async def get_engine(request: Request) -> AsyncEngine:
    return request.app.state.runtime.engine


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessionmaker


async def get_schema_guard(request: Request) -> SchemaGuard:
    return request.app.state.runtime.schema_guard


async def get_redis(request: Request) -> RedisClients | None:
    return request.app.state.runtime.redis


async def get_kafka(request: Request) -> KafkaConnection | None:
    return request.app.state.runtime.kafka


async def get_breakers(request: Request) -> BreakerRegistry:
    return request.app.state.runtime.breakers


async def get_database_gate(request: Request) -> AdmissionGate:
    return request.app.state.runtime.database_gate


async def get_metrics(request: Request) -> CollectorRegistry | None:
    return request.app.state.runtime.metrics


async def get_cache(request: Request) -> TaggedCache:
    return request.app.state.runtime.cache


async def get_events(request: Request) -> EventsRuntime:
    return request.app.state.runtime.events


async def get_realtime_hub(request: Request) -> LocalHub:
    return request.app.state.runtime.realtime_hub


async def get_realtime_bus(request: Request) -> RealtimeBus:
    return request.app.state.runtime.realtime_bus


async def get_presence(request: Request) -> PresenceStore:
    return request.app.state.runtime.presence


async def get_recent_messages(request: Request) -> RecentMessages:
    return request.app.state.runtime.recent_messages


async def get_rate_limiter(request: Request) -> RequestLimiter:
    return request.app.state.runtime.rate_limiter


async def get_profile_views(request: Request) -> ProfileViewCounter:
    return request.app.state.runtime.profile_views


# One session per request, admitted by the database breaker: while PostgreSQL is down the request
# fails at once with 503 and Retry-After. Committed by the service that writes.
get_session = require("database")


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
SchemaGuardDep = Annotated[SchemaGuard, Depends(get_schema_guard)]
RedisDep = Annotated[RedisClients | None, Depends(get_redis)]  # None: no Redis configured
KafkaDep = Annotated[KafkaConnection | None, Depends(get_kafka)]  # None: in-process events
BreakersDep = Annotated[BreakerRegistry, Depends(get_breakers)]
DatabaseGateDep = Annotated[AdmissionGate, Depends(get_database_gate)]
MetricsDep = Annotated[CollectorRegistry | None, Depends(get_metrics)]  # None: metrics off
CacheDep = Annotated[TaggedCache, Depends(get_cache)]
EventsDep = Annotated[EventsRuntime, Depends(get_events)]
RealtimeHubDep = Annotated[LocalHub, Depends(get_realtime_hub)]
RealtimeBusDep = Annotated[RealtimeBus, Depends(get_realtime_bus)]
PresenceDep = Annotated[PresenceStore, Depends(get_presence)]
RecentMessagesDep = Annotated[RecentMessages, Depends(get_recent_messages)]
RateLimiterDep = Annotated[RequestLimiter, Depends(get_rate_limiter)]
ProfileViewsDep = Annotated[ProfileViewCounter, Depends(get_profile_views)]
# Calls through this go through the breaker (time-bounded; 503 when open or failing):
#   await redis(lambda c: c.master.set("k", "v"))
RedisBreakerDep = Annotated[Guarded[RedisClients], Depends(require("redis"))]
