"""Async Alembic environment.

The gateway passes its own connection in `config.attributes["connection"]`; the `alembic` command
line gets a fresh async engine built from the gateway's settings.
"""

import asyncio
import logging.config

from alembic import context
from sqlalchemy.engine import Connection

from snaproom_gateway.api.models_registry import metadata
from snaproom_gateway.core.settings import load_settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("connection"):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_new_engine() -> None:
    from snaproom_gateway.infra.database import create_engine

    engine = create_engine(load_settings())
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=load_settings().database.url, target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _configure(connection)
else:
    asyncio.run(_run_with_new_engine())
