"""The app's pool connects under DB_REQUEST_CONNECT_TIMEOUT, not the longer DB_CONNECT_TIMEOUT."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from snaproom_gateway.resilience import is_infrastructure_error
from snaproom_gateway.resilience.setup import bound_connect_timeout


async def test_a_server_that_never_answers_costs_the_short_connect_bound():
    # Accepts the TCP connection and then says nothing, like a hung or blackholed server.
    async def silent(reader, writer):
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_async_engine(f"postgresql+asyncpg://u:p@127.0.0.1:{port}/db",
                                 connect_args={"timeout": 60, "ssl": False})
    bound_connect_timeout(engine, 0.2)
    try:
        # Without the bound the connect would wait 60 s: the outer 20 s turns that into a failure.
        async with asyncio.timeout(20):
            with pytest.raises(TimeoutError) as raised:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
        server.close()
        await server.wait_closed()
    assert is_infrastructure_error(raised.value)
