"""The gateway on the real stack (PostgreSQL, Redis + Sentinels) for the domain's tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import database, migrations
from tests.support.apps import running_app


@pytest.fixture(scope="session")
def domain_stack_env() -> dict[str, str]:
    """PostgreSQL, Redis and the Sentinels of the harness, without Kafka.

    Part 1 of the domain publishes through the outbox only; until the events package (relay,
    consumers) is merged nothing here talks to Kafka, so these tests do not start three JVMs.
    The harness's `stack` fixture would start them (and their ports collide between some
    SNAPROOM_STACK_PORT_OFFSET values: offset 300's controllers sit on offset 400's brokers).
    """
    from tests.support.servers import Stack, _state_lock

    st = Stack(verbose=False)
    with _state_lock(st):
        before = set(st.running())
        st.up("pg", "redis", "sentinels")
    try:
        yield {k: v for k, v in st.env().items() if k != "KAFKA_BROKERS"}
    finally:
        ours = [n for n in st.running() if n not in before]
        if ours and os.environ.get("SNAPROOM_STACK_KEEP") != "1":
            st.down(*ours)


def stack_settings(stack_env: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {name.lower(): value for name, value in stack_env.items()}
    values |= {"app_env": "testing", "rate_limit_login": "1000/minute",
               "rate_limit_signup": "1000/minute", "rate_limit_writes": "1000/minute",
               "user_deletion_retry_delay": 0.0}
    values |= overrides
    return Settings(_env_file=None, **values)


async def migrate(settings: Settings) -> None:
    engine = database.create_engine(settings)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def settings(domain_stack_env: dict[str, str]) -> Settings:
    """The social tests' settings: the harness's PostgreSQL (migrated) and Redis, no Kafka.

    In-process bus: the tests deliver the outbox themselves. Reached through the conftests of the
    folders whose tests ask for `settings` (integration/api, messages, realtime).
    """
    configured = stack_settings(domain_stack_env, kafka_brokers=[])
    asyncio.run(migrate(configured))
    return configured


def unique(prefix: str) -> str:
    """Names no earlier run used: the database and the audit trail outlive a test session."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def unique_ip() -> str:
    # Each test limits its own client address: Redis windows outlive a test.
    raw = uuid.uuid4().int
    return f"10.{raw % 250}.{(raw >> 8) % 250}.{(raw >> 16) % 250 + 1}"


@asynccontextmanager
async def app_on_stack(settings: Settings, ip: str | None = None
                       ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    async with running_app(settings) as (app, client):
        if ip is None:
            yield app, client
            return
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as own:
            yield app, own
