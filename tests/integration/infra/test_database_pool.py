"""The pool's connection checks on the real PostgreSQL: a connection the server dropped while it
sat idle is replaced before use; one dropped right after use fails once and the pool recovers."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from snaproom_gateway.infra import database

pytestmark = pytest.mark.integration


async def _terminate(settings, pid: int) -> None:
    """Drop a backend from another connection, as a server restart would."""
    killer = database.create_engine(settings)
    try:
        async with killer.connect() as connection:
            assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"),
                                           {"pid": pid})
    finally:
        await killer.dispose()


async def _used_then_dropped(engine, settings) -> int:
    """Use the pool's one connection, then have the server drop it; returns its backend pid."""
    async with engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    await _terminate(settings, pid)
    return pid


def _pool_of_one(stack_settings, ping_after_idle: float):
    return database.create_engine(stack_settings.with_changes(**{
        "db_ping_after_idle": ping_after_idle, "db_pool_size": 1, "db_max_overflow": 0}))


async def test_a_connection_dropped_while_idle_is_replaced_before_use(stack_settings):
    engine = _pool_of_one(stack_settings, ping_after_idle=0.2)
    try:
        pid = await _used_then_dropped(engine, stack_settings)
        await asyncio.sleep(0.3)  # idle past the bound: the next checkout pings it
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()


async def test_a_connection_dropped_just_after_use_fails_once_then_the_pool_recovers(
        stack_settings):
    engine = _pool_of_one(stack_settings, ping_after_idle=60)
    try:
        pid = await _used_then_dropped(engine, stack_settings)
        with pytest.raises(DBAPIError) as failure:  # not pinged: it was used moments ago
            async with engine.connect() as connection:
                await connection.scalar(text("SELECT 1"))
        assert failure.value.connection_invalidated
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()


async def test_ping_after_idle_zero_pings_every_checkout(stack_settings):
    engine = _pool_of_one(stack_settings, ping_after_idle=0)
    try:
        pid = await _used_then_dropped(engine, stack_settings)
        async with engine.connect() as connection:  # pre-ping replaced it at once
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()
