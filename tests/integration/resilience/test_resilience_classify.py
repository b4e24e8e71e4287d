"""Error classification against the errors the real drivers raise, not hand-made ones."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from snaproom_gateway.resilience import is_infrastructure_error
from tests.support.servers import stack_mod

pytestmark = pytest.mark.integration


async def _raised(awaitable) -> BaseException:
    try:
        await awaitable
    except BaseException as exc:  # noqa: BLE001 - the point is to look at it
        return exc
    raise AssertionError("nothing was raised")


@pytest.fixture
async def engine(stack_env):
    engine = create_async_engine(stack_env["DATABASE_URL"], connect_args={"timeout": 3})
    yield engine
    await engine.dispose()


async def test_postgres_unique_violation_is_not_an_outage(engine):
    async def duplicate() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TEMP TABLE dup (id int PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO dup VALUES (1), (1)"))

    exc = await _raised(duplicate())
    assert isinstance(exc, IntegrityError)
    assert not is_infrastructure_error(exc)


async def test_postgres_syntax_error_is_not_an_outage(engine):
    async def bad_sql() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELEC 1"))

    exc = await _raised(bad_sql())
    assert isinstance(exc, DBAPIError)
    assert not is_infrastructure_error(exc)


async def test_postgres_statement_timeout_counts(engine):
    async def slow() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SET statement_timeout = 50"))
            await connection.execute(text("SELECT pg_sleep(2)"))

    exc = await _raised(slow())
    assert is_infrastructure_error(exc), repr(exc)


async def test_postgres_closed_port_counts():
    engine = create_async_engine("postgresql+asyncpg://u:p@127.0.0.1:1/db",
                                 connect_args={"timeout": 3})
    try:
        async def connect() -> None:
            async with engine.connect():
                pass

        exc = await _raised(connect())
    finally:
        await engine.dispose()
    assert is_infrastructure_error(exc), repr(exc)


async def test_postgres_wrong_password_is_classified_as_not_an_outage(stack):
    url = (f"postgresql+asyncpg://snaproom:wrong@127.0.0.1:{stack.ports['postgres']}/snaproom")
    engine = create_async_engine(url, connect_args={"timeout": 3})
    try:
        async def connect() -> None:
            async with engine.connect():
                pass

        exc = await _raised(connect())
    finally:
        await engine.dispose()
    # A misconfiguration: opening the breaker would not help, every call fails the same way.
    assert not is_infrastructure_error(exc), repr(exc)


async def test_redis_wrong_type_is_not_an_outage_and_a_replica_write_is(stack):
    master_port = stack.redis_master_port()
    replica_name = next(n for n in stack_mod.REDIS_NODES
                        if stack.ports[n] != master_port)
    master = Redis(port=master_port, password=stack_mod.REDIS_PASSWORD, socket_timeout=2)
    replica = Redis(port=stack.ports[replica_name], password=stack_mod.REDIS_PASSWORD,
                    socket_timeout=2)
    try:
        await master.set("resilience:string", "x")
        wrong_type = await _raised(master.lpush("resilience:string", "y"))
        read_only = await _raised(replica.set("resilience:k", "v"))
    finally:
        await master.aclose()
        await replica.aclose()
    assert not is_infrastructure_error(wrong_type), repr(wrong_type)
    assert is_infrastructure_error(read_only), repr(read_only)
