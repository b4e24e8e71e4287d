"""The `snaproom-gateway` command: serve, migrate and the operations commands (artisan's peers)."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from snaproom_gateway import __version__
from snaproom_gateway.settings import Settings, SettingsError, load_settings

cli = typer.Typer(
    name="snaproom-gateway",
    help="Snaproom gateway: an async backend-for-frontend over PostgreSQL, Redis and Kafka.\n\n"
    "Every setting comes from the environment or a .env file (DATABASE_URL, REDIS_SENTINELS, "
    "KAFKA_BROKERS, ...); with none set it runs on SQLite, an in-process cache and bus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"snaproom-gateway: {exc}", err=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@cli.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Snaproom gateway."""


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (WEB_CONCURRENCY).")] = None,
) -> None:
    """Serve the API with uvicorn (uvloop + httptools)."""
    import uvicorn

    settings = settings_or_exit()
    uvicorn.run(
        "snaproom_gateway.app:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.web_concurrency,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        proxy_headers=True,
        # Lifespan shutdown drains consumers and the outbox relay within this bound.
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
    )


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (Alembic) to DATABASE_URL."""
    from snaproom_gateway.infra import database, migrations

    settings = settings_or_exit()

    async def run() -> str | None:
        engine = database.create_engine(settings)
        try:
            await migrations.upgrade(engine, revision)
            return await migrations.current(engine)
        finally:
            await engine.dispose()

    try:
        now = asyncio.run(run())
    except (OSError, ConnectionError) as exc:
        typer.echo(f"snaproom-gateway: cannot reach the database (DATABASE_URL): {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database at revision {now}")


users_cli = typer.Typer(help="Manage users (the first admin, ...).", no_args_is_help=True)
cli.add_typer(users_cli, name="users")


@users_cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Email of the admin (an existing user is promoted).")],
    username: Annotated[str | None, typer.Option(
        help="Username for a new user (default: the email's local part).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password of a new user from standard input.")] = False,
) -> None:
    """Give the admin role to the user with EMAIL, creating the user if there is none."""
    from snaproom_gateway.users.admin_cli import create_admin_command

    settings = settings_or_exit()
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    code, message = create_admin_command(settings, email, username, password)
    typer.echo(message, err=code != 0)
    raise typer.Exit(code)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
