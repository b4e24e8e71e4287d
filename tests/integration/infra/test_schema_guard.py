"""A gateway pointed at an empty or behind PostgreSQL database (issue 15, part 2): start-up
says so in one line naming `snaproom-gateway migrate`, readiness answers 503, requests answer
503 with that line (never a 500), and running the migrations brings it back without a restart.
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from snaproom_gateway.infra import database, migrations
from tests.support.apps import running_app
from tests.support.domain_stack import domain_stack_env, stack_settings, unique  # noqa: F401
from tests.support.users_api import PASSWORD

pytestmark = pytest.mark.integration

MIGRATE = "snaproom-gateway migrate"


@pytest.fixture
async def empty_database(domain_stack_env):  # noqa: F811
    """A fresh database on the stack's PostgreSQL, dropped afterwards: its settings."""
    name = f"snaproom_empty_{uuid.uuid4().hex[:8]}"
    admin = database.create_engine(stack_settings(domain_stack_env))
    async with admin.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(domain_stack_env["DATABASE_URL"])
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        yield stack_settings(domain_stack_env, kafka_brokers=[], database_url=url,
                             db_migrate_on_start=False)
    finally:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _upgrade(settings, revision: str = "head") -> None:
    engine = database.create_engine(settings)
    try:
        await migrations.upgrade(engine, revision)
    finally:
        await engine.dispose()


async def _signup(client):
    name = unique("fresh")
    return await client.post("/api/auth/signup", json={
        "email": f"{name}@example.com", "username": name, "password": PASSWORD})


async def _assert_refused_naming_migrate(client) -> None:
    ready = await client.get("/api/health/ready")
    assert ready.status_code == 503, ready.text
    assert MIGRATE in ready.json()["detail"]
    assert ready.json()["dependencies"]["database"]["schema"] == "behind"
    signup = await _signup(client)
    assert signup.status_code == 503, signup.text
    assert MIGRATE in signup.json()["detail"]
    assert signup.headers["retry-after"]
    listed = await client.get("/api/users")
    assert listed.status_code == 503, listed.text
    assert (await client.get("/api/health/live")).status_code == 200


async def test_an_empty_database_is_named_at_start_and_503_until_migrated(empty_database,
                                                                           caplog):
    with caplog.at_level(logging.ERROR, logger="snaproom_gateway.infra.schema_guard"):
        async with running_app(empty_database) as (app, client):
            said = [r.getMessage() for r in caplog.records
                    if r.name == "snaproom_gateway.infra.schema_guard"]
            assert said == [f"snaproom-gateway: the database has no schema (not migrated): "
                            f"run `{MIGRATE}`"]
            await _assert_refused_naming_migrate(client)
            assert app.state.runtime.breakers["database"].state.value == "closed"

            await _upgrade(empty_database)  # as `snaproom-gateway migrate` does
            assert (await client.get("/api/health/ready")).status_code == 200
            assert (await _signup(client)).status_code == 201


async def test_a_schema_one_migration_behind_is_503_naming_migrate(empty_database):
    scripts = migrations._scripts()
    head = scripts.get_current_head()
    previous = scripts.get_revision(head).down_revision
    await _upgrade(empty_database, previous)
    async with running_app(empty_database) as (_, client):
        await _assert_refused_naming_migrate(client)
        detail = (await client.get("/api/health/ready")).json()["detail"]
        assert f"at {previous}, needs {head}" in detail
        await _upgrade(empty_database)
        assert (await client.get("/api/health/ready")).status_code == 200
        assert (await _signup(client)).status_code == 201


async def test_two_instances_migrating_on_start_at_once_both_come_up(empty_database):
    import asyncio

    settings = empty_database.with_changes(**{"db_migrate_on_start": True})
    engines = [database.create_engine(settings) for _ in range(2)]
    try:
        # The advisory lock serialises them: the second finds the schema at head.
        await asyncio.gather(*(migrations.upgrade(engine) for engine in engines))
        state = await migrations.schema_state(engines[0])
    finally:
        for engine in engines:
            await engine.dispose()
    assert not state.behind and state.current == state.heads
