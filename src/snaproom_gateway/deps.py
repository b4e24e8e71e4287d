"""Request dependencies, each named once as an `Annotated` alias, so routes read plainly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.settings import Settings


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


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; committed by the service that writes, rolled back on error."""
    async with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
RedisDep = Annotated[RedisClients | None, Depends(get_redis)]
KafkaDep = Annotated[KafkaConnection | None, Depends(get_kafka)]
CacheDep = Annotated[TaggedCache, Depends(get_cache)]
