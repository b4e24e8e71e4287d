"""The `snaproom-gateway` command: serve, migrate and the operations commands."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from snaproom_gateway import __version__
from snaproom_gateway.core.settings import Settings, SettingsError, load_settings

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
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"snaproom-gateway: {exc}", err=True)
        raise typer.Exit(2) from None
    from snaproom_gateway.observability.logging_setup import configure as configure_logging

    # Every command logs as the server does (consume and replay: with each event's context).
    configure_logging(settings.observability.log_level, settings.effective_log_format,
                      access_log=settings.observability.access_log)
    return settings


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
    """Serve the API with uvicorn (uvloop + httptools; cached public GETs answered in the
    server's protocol, see serving.py)."""
    from snaproom_gateway.api import serving
    from snaproom_gateway.metrics import workers_dir

    settings = settings_or_exit()
    # Several workers: /metrics sums them through prometheus-client's multiprocess files.
    with workers_dir.prepared(settings.observability.prometheus_multiproc_dir,
                              workers or settings.web_concurrency):
        serving.run(settings, host=host, port=port, workers=workers)


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


# --- events: topics, consume, replay, offsets (logic in events/commands.py) ---

topics_cli = typer.Typer(help="Kafka topics of the gateway (kafka-topics' peers).",
                         no_args_is_help=True)
offsets_cli = typer.Typer(help="Consumer-group offsets (kafka-consumer-groups' peers).",
                          no_args_is_help=True)
cli.add_typer(topics_cli, name="topics")
cli.add_typer(offsets_cli, name="offsets")

GroupOption = Annotated[str, typer.Option(
    "--group", "-g",
    help="Consumer group: a handler group (e.g. audit, notifications) or any name; the Kafka "
    "group id is KAFKA_CONSUMER_GROUP_ID.<group>.")]


def _run_events(coroutine_factory):
    """Run an events command; one line and exit 1 on an expected failure."""
    from snaproom_gateway.events.commands import CommandError

    try:
        return asyncio.run(coroutine_factory())
    except CommandError as exc:
        typer.echo(f"snaproom-gateway: {exc}", err=True)
        raise typer.Exit(1) from None
    except (OSError, TimeoutError) as exc:
        typer.echo(f"snaproom-gateway: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None


def _echo_json(value) -> None:
    import orjson

    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _parse_time(value: str | None):
    if value is None:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time "
                                 "(e.g. 2026-01-15T10:30:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@topics_cli.command("ensure")
def topics_ensure() -> None:
    """Create the event topics of the catalog (and their .dlq twins) that do not exist yet.

    Replication factor is min(KAFKA_REPLICATION_FACTOR, brokers). The app does this on start too.
    """
    from snaproom_gateway.events import commands

    settings = settings_or_exit()
    typer.echo(f"ensuring topics on {','.join(settings.kafka.brokers) or '(no brokers)'} ...",
               err=True)
    result = _run_events(lambda: commands.topics_ensure(settings))
    for topic, outcome in sorted(result.items()):
        typer.echo(f"{topic:28} {outcome}")


@topics_cli.command("list")
def topics_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List topics with their partitions: leader, replicas and in-sync replicas (ISR)."""
    from snaproom_gateway.events import commands

    settings = settings_or_exit()
    topics = _run_events(lambda: commands.topics_list(settings))
    if as_json:
        _echo_json(topics)
        return
    for topic in topics:
        parts = topic["partitions"]
        typer.echo(f"{topic['topic']}  partitions={len(parts)} "
                   f"replicas={len(parts[0]['replicas']) if parts else 0}")
        for p in parts:
            typer.echo(f"  partition {p['partition']:>2}  leader {p['leader']}  "
                       f"replicas {','.join(map(str, p['replicas']))}  "
                       f"isr {','.join(map(str, p['isr']))}")


@cli.command()
def consume(
    topics: Annotated[list[str], typer.Argument(help="Topics to consume, e.g. user-events.")],
    group: GroupOption = "snaproom-gateway",
    timeout: Annotated[int | None, typer.Option(
        help="Stop after this many milliseconds without a message (default: run until "
        "SIGINT/SIGTERM).")] = None,
    batch_size: Annotated[int, typer.Option(
        min=1, max=10_000, help="Messages handled (and offsets committed) per batch.")] = 500,
) -> None:
    """Consume topics as a consumer group and run its handlers.

    A group with no registered handlers prints each event as one JSON line. Offsets are
    committed after handling; an event the group already handled has no second effect; a
    message that does not validate goes to <topic>.dlq.
    """
    from snaproom_gateway.api import subscriptions
    from snaproom_gateway.events import commands

    settings = settings_or_exit()
    idle = timeout / 1000 if timeout is not None else None
    subscribers = subscriptions.include_domains(settings)
    result = _run_events(lambda: commands.consume(settings, subscribers, topics, group,
                                                  idle_timeout=idle, batch_size=batch_size))
    typer.echo(f"stopped: {result['consumed']} consumed, {result['handled']} handled, "
               f"{result['skipped']} already handled, {result['dead_lettered']} dead-lettered "
               f"in {result['seconds']}s", err=True)


@cli.command()
def replay(
    topic: Annotated[list[str], typer.Option("--topic", "-t",
                                             help="Topic to replay (repeatable).")],
    group: GroupOption,
    from_beginning: Annotated[bool, typer.Option("--from-beginning",
                                                 help="Replay from the earliest offset.")] = False,
    from_timestamp: Annotated[str | None, typer.Option(
        "--from-timestamp", help="Replay from the first message at or after this ISO time.")
    ] = None,
    skip_handled: Annotated[bool, typer.Option(
        "--skip-handled", help="Only run handlers for events the group never handled (default "
        "re-runs them all, to rebuild read models and caches).")] = False,
    timeout: Annotated[int, typer.Option(
        help="Also stop after this many milliseconds without a message.")] = 30_000,
) -> None:
    """Reset a group's offsets and re-run its handlers up to the topics' current end (CQRS replay).

    The group's consumers must be stopped (as with kafka-consumer-groups --reset-offsets).
    """
    from snaproom_gateway.api import subscriptions
    from snaproom_gateway.events import commands

    if from_beginning == (from_timestamp is not None):
        raise typer.BadParameter("give exactly one of --from-beginning or --from-timestamp")
    when = _parse_time(from_timestamp)
    settings = settings_or_exit()
    subscribers = subscriptions.include_domains(settings)
    result = _run_events(lambda: commands.replay(
        settings, subscribers, topic, group,
        target="earliest" if from_beginning else "timestamp", when=when,
        rehandle=not skip_handled, idle_timeout=timeout / 1000))
    typer.echo(f"replayed: {result['consumed']} consumed, {result['handled']} handled, "
               f"{result['skipped']} skipped, {result['dead_lettered']} dead-lettered "
               f"in {result['seconds']}s", err=True)


@offsets_cli.command("show")
def offsets_show(
    group: GroupOption,
    topic: Annotated[list[str] | None, typer.Option("--topic", "-t",
                                                    help="Only these topics.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Committed offset, end offset and lag per partition of a consumer group."""
    from snaproom_gateway.events import commands

    settings = settings_or_exit()
    result = _run_events(lambda: commands.offsets_show(settings, group, topic or []))
    if as_json:
        _echo_json(result)
        return
    typer.echo(f"GROUP {result['group']}  total lag {result['lag']}")
    typer.echo(f"{'TOPIC':24} {'PARTITION':>9} {'COMMITTED':>10} {'END':>10} {'LAG':>8}")
    for row in result["partitions"]:
        committed = "-" if row["committed"] is None else row["committed"]
        typer.echo(f"{row['topic']:24} {row['partition']:>9} {committed:>10} "
                   f"{row['end']:>10} {row['lag']:>8}")


@offsets_cli.command("reset")
def offsets_reset(
    group: GroupOption,
    topic: Annotated[list[str], typer.Option("--topic", "-t", help="Topic (repeatable).")],
    to_earliest: Annotated[bool, typer.Option("--to-earliest")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest")] = False,
    to_datetime: Annotated[str | None, typer.Option(
        "--to-datetime", help="First message at or after this ISO time.")] = None,
) -> None:
    """Move a stopped group's committed offsets (kafka-consumer-groups --reset-offsets)."""
    from snaproom_gateway.events import commands

    if sum([to_earliest, to_latest, to_datetime is not None]) != 1:
        raise typer.BadParameter("give exactly one of --to-earliest, --to-latest, --to-datetime")
    target = "earliest" if to_earliest else "latest" if to_latest else "timestamp"
    when = _parse_time(to_datetime)
    settings = settings_or_exit()
    result = _run_events(lambda: commands.offsets_reset(settings, group, topic, target, when))
    for row in result["partitions"]:
        typer.echo(f"{result['group']} {row['topic']}[{row['partition']}] -> {row['offset']}")


# --- outbox: pending and dead rows (logic in events/commands.py; the database only) ---

outbox_cli = typer.Typer(
    help="The transactional outbox: rows waiting for Kafka, and dead rows Kafka refused.",
    no_args_is_help=True)
cli.add_typer(outbox_cli, name="outbox")


@outbox_cli.command("status")
def outbox_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rows waiting for the relay, the oldest one's age, and dead rows."""
    from snaproom_gateway.events import commands

    settings = settings_or_exit()
    result = _run_events(lambda: commands.outbox_status(settings))
    if as_json:
        _echo_json(result)
        return
    oldest = f" (oldest written {result['oldest_pending']})" if result["oldest_pending"] else ""
    typer.echo(f"pending {result['pending']}{oldest}, dead {result['dead']}")


@outbox_cli.command("dead")
def outbox_dead(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Dead rows, oldest first: events Kafka could never take.

    Too large for their topic; each also has a notice in the topic's .dlq."""
    from snaproom_gateway.events import commands

    settings = settings_or_exit()
    rows = _run_events(lambda: commands.outbox_dead(settings, limit))
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no dead rows")
        return
    typer.echo(f"{'SEQ':>10} {'TOPIC':24} {'KEY':12} {'BYTES':>9} {'DEAD AT':25} ERROR")
    for row in rows:
        typer.echo(f"{row['seq']:>10} {row['topic']:24} {row['key'] or '-':12} "
                   f"{row['size']:>9} {row['dead_at'][:25]:25} {row['error'] or ''}")


@outbox_cli.command("requeue")
def outbox_requeue(
    seqs: Annotated[list[int] | None, typer.Argument(
        help="Outbox seqs of dead rows (see `outbox dead`).", show_default=False)] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Every dead row.")] = False,
) -> None:
    """Make dead rows pending again, for the relay to send.

    Say after the topic's max.message.bytes was raised. A requeued event reaches its consumers
    after the later events of its key. Rows over the gateway's 1,000,000-byte limit stay dead."""
    from snaproom_gateway.events import commands

    if bool(seqs) == all_dead:
        raise typer.BadParameter("give the seqs of dead rows, or --all")
    settings = settings_or_exit()
    result = _run_events(lambda: commands.outbox_requeue(settings, None if all_dead else seqs))
    typer.echo(f"requeued {len(result['requeued'])} rows"
               + (f": {' '.join(map(str, result['requeued']))}" if result["requeued"] else ""))
    if result["too_large"]:
        typer.echo(f"left dead, over the size limit: {' '.join(map(str, result['too_large']))}",
                   err=True)
    if result["not_dead"]:
        typer.echo(f"not dead rows (pending, sent or unknown): "
                   f"{' '.join(map(str, result['not_dead']))}", err=True)
    if not result["requeued"] and (seqs or result["too_large"]):
        raise typer.Exit(1)


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
    from snaproom_gateway.auth.admin_cli import create_admin_command

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
