"""Request dependencies, each named once as an `Annotated` alias, so routes read plainly."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.resilience import Guarded, require
from snaproom_gateway.resilience.registry import BreakerRegistry


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> AsyncEngine:
    return request.app.state.engine


def get_redis(request: Request) -> RedisClients | None:
    return request.app.state.redis


def get_kafka(request: Request) -> KafkaConnection | None:
    return request.app.state.kafka


async def get_cache(request: Request) -> TaggedCache:
    # async: FastAPI runs a plain `def` dependency in the thread pool, a hop per request.
    return request.app.state.cache


# One session per request, admitted by the database breaker: while PostgreSQL is down the request
# fails at once with 503 and Retry-After. Committed by the service that writes.
get_session = require("database")


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
RedisDep = Annotated[RedisClients | None, Depends(get_redis)]
KafkaDep = Annotated[KafkaConnection | None, Depends(get_kafka)]
CacheDep = Annotated[TaggedCache, Depends(get_cache)]
# Calls through these go through the breaker (time-bounded; 503 when open or failing):
#   await redis(lambda c: c.master.set("k", "v"))
RedisBreakerDep = Annotated[Guarded[RedisClients], Depends(require("redis"))]
KafkaBreakerDep = Annotated[Guarded[KafkaConnection], Depends(require("kafka"))]


def get_breakers(request: Request) -> BreakerRegistry:
    return request.app.state.breakers


BreakersDep = Annotated[BreakerRegistry, Depends(get_breakers)]
