"""Alembic, run on the app's own async engine (for `migrate` and the SQLite start-up), and the
check that the database's schema is the one the code needs (`schema_behind`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATE_COMMAND = "snaproom-gateway migrate"
# pg_advisory_xact_lock key for migrations ("snaproom" in ASCII): instances starting together
# with DB_MIGRATE_ON_START migrate one after the other; the later ones find nothing to do.
_MIGRATION_LOCK = 0x736E6170726F6F6D

_PACKAGE = Path(__file__).resolve().parents[1]


def _script_location() -> Path:
    # In a wheel the migrations are packaged beside the code; in a checkout they sit at the top.
    for candidate in (_PACKAGE / "migrations", _PACKAGE.parents[1] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("alembic migrations not found beside the package or the checkout")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to `revision` inside one transaction on the given engine."""
    config = alembic_config()

    def run(connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": _MIGRATION_LOCK})
        await connection.run_sync(run)


async def current(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


@dataclass(frozen=True)
class SchemaState:
    """Where the database's schema stands against the code's migrations."""

    current: tuple[str, ...]  # the database's revisions (empty: never migrated)
    heads: tuple[str, ...]  # what the code needs
    known: bool  # every database revision is one of the code's (False: the code is older)

    @property
    def behind(self) -> bool:
        return self.known and set(self.current) != set(self.heads)

    def describe(self) -> str:
        """One line for start-up, readiness and 503 answers."""
        if not self.current:
            return (f"the database has no schema (not migrated): run `{MIGRATE_COMMAND}`")
        return (f"the database schema is behind the code (at {', '.join(self.current)}, "
                f"needs {', '.join(self.heads)}): run `{MIGRATE_COMMAND}`")


@cache  # the migrations shipped with this code do not change while it runs
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Read the database's revisions and compare them with the code's heads (one query)."""
    from alembic.runtime.migration import MigrationContext

    def read(connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        current = await connection.run_sync(read)
    script = _scripts()
    heads = tuple(script.get_heads())
    known = True
    for revision in current:
        try:
            if script.get_revision(revision) is None:
                known = False
        except Exception:  # alembic raises for a revision it has never heard of
            known = False
    return SchemaState(current, heads, known)
