"""The logic of the event commands of the CLI (topics, consume, replay, offsets, outbox).

Each opens what it needs (database engine, Kafka producer and admin), does its work within time
bounds, and closes everything. Output: results on stdout, progress on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.core import gc_tuning
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events import offsets as group_offsets
from snaproom_gateway.events import outbox
from snaproom_gateway.events.consumer import KafkaGroupRunner, kafka_dead_letter
from snaproom_gateway.events.dispatch import Dispatcher
from snaproom_gateway.events.envelope import Envelope
from snaproom_gateway.events.subscribers import HandlerContext, Subscribers
from snaproom_gateway.events.topics import describe_topics, ensure_topics
from snaproom_gateway.infra import database, migrations
from snaproom_gateway.infra.kafka import KafkaConnection


class CommandError(Exception):
    """A failure worth one line to the operator (exit code 1)."""


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Resources:
    settings: Settings
    kafka: KafkaConnection
    sessionmaker: Any = None


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, database_too: bool = False
                 ) -> AsyncIterator[Resources]:
    if not settings.kafka.configured:
        raise CommandError("KAFKA_BROKERS is not set: this command needs the Kafka cluster")
    kafka = KafkaConnection(settings)
    await kafka.start()
    engine = database.create_engine(settings) if database_too else None
    try:
        if not await kafka.wait_connected(settings.kafka.request_timeout_ms / 1000 + 10):
            raise CommandError(f"cannot reach Kafka at {','.join(settings.kafka.brokers)}: "
                               f"{kafka.last_error}")
        yield Resources(settings, kafka,
                        database.create_sessionmaker(engine) if engine is not None else None)
    except KafkaError as exc:
        raise CommandError(f"kafka: {type(exc).__name__}: {exc}") from None
    finally:
        await kafka.close()
        if engine is not None:
            await database.dispose(engine, 5.0)


async def topics_ensure(settings: Settings) -> dict[str, str]:
    async with opened(settings) as res:
        return await ensure_topics(res.kafka.admin, settings)


async def topics_list(settings: Settings) -> list[dict[str, Any]]:
    async with opened(settings) as res:
        return await describe_topics(res.kafka.admin)


async def offsets_show(settings: Settings, group: str, topics: list[str]) -> dict[str, Any]:
    group_id = group_offsets.kafka_group_id(settings, group)
    async with opened(settings) as res:
        reader = group_offsets.OffsetReader(settings)
        try:
            rows = await group_offsets.group_offsets(res.kafka.admin, reader, group_id,
                                                     topics or None)
        finally:
            await reader.close()
    return {"group": group_id, "partitions": rows, "lag": sum(r["lag"] or 0 for r in rows)}


async def offsets_reset(settings: Settings, group: str, topics: list[str], target: str,
                        when: datetime | None) -> dict[str, Any]:
    group_id = group_offsets.kafka_group_id(settings, group)
    async with opened(settings) as res:
        reader = group_offsets.OffsetReader(settings)
        try:
            new = await group_offsets.reset_offsets(settings, res.kafka.admin, reader, group_id,
                                                    topics, target, when)  # type: ignore[arg-type]
        except (LookupError, RuntimeError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            await reader.close()
    return {"group": group_id,
            "partitions": [{"topic": tp.topic, "partition": tp.partition, "offset": offset}
                           for tp, offset in sorted(new.items())]}


async def echo_event(envelope: Envelope, ctx: HandlerContext) -> None:
    """The handler of a group that has none registered: print the event as one JSON line."""
    sys.stdout.write(orjson.dumps(envelope.model_dump(mode="json")).decode() + "\n")
    sys.stdout.flush()


def _stop_on_signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop)


async def consume(settings: Settings, subscribers: Subscribers, topics: list[str], group: str,
                  *, idle_timeout: float | None, replay: bool = False,
                  until_caught_up: bool = False, batch_size: int = 500) -> dict[str, Any]:
    """Run `group`'s handlers among `subscribers` (or the echo handler) over `topics` until a
    signal, the idle timeout, or (replay) the end the partitions had at start."""
    group_id = group_offsets.kafka_group_id(settings, group)
    async with opened(settings, database_too=True) as res:
        dispatcher = Dispatcher(
            group, subscribers=subscribers, sessionmaker=res.sessionmaker, settings=settings,
            slots=asyncio.Semaphore(settings.handler_concurrency),
            dead_letter=kafka_dead_letter(res.kafka, group, settings.kafka.close_timeout + 5),
            replay=replay, fallback=echo_event)
        started = time.monotonic()
        last_report = [started]

        def report(count: int) -> None:
            now = time.monotonic()
            if now - last_report[0] >= 2.0:
                last_report[0] = now
                progress(f"{group_id}: {runner.consumed} consumed, {dispatcher.handled} handled, "
                         f"{dispatcher.skipped} already handled, "
                         f"{dispatcher.dead_lettered} dead-lettered")

        runner = KafkaGroupRunner(settings, res.kafka, dispatcher, topics, group_id,
                                  idle_timeout=idle_timeout, until_caught_up=until_caught_up,
                                  max_records=batch_size, on_batch=report)
        _stop_on_signals(runner.stop)
        handlers = subscribers.registrations(group)
        progress(f"consuming {', '.join(topics)} as {group_id} with "
                 f"{len(handlers) or 'the echo'} handler{'s' if len(handlers) != 1 else ''}"
                 f"{' (replay)' if replay else ''}; Ctrl-C stops")
        if settings.gc_freeze:
            gc_tuning.freeze_startup_heap()
        try:
            await runner.run()
        finally:
            if settings.gc_freeze:
                gc_tuning.unfreeze()
    return {"group": group_id, "consumed": runner.consumed, "handled": dispatcher.handled,
            "skipped": dispatcher.skipped, "dead_lettered": dispatcher.dead_lettered,
            "seconds": round(time.monotonic() - started, 1)}


async def replay(settings: Settings, subscribers: Subscribers, topics: list[str], group: str, *,
                 target: str,
                 when: datetime | None, rehandle: bool, idle_timeout: float) -> dict[str, Any]:
    """Reset `group`'s offsets on `topics`, then re-run its handlers up to the current end."""
    reset = await offsets_reset(settings, group, topics, target, when)
    progress(f"{reset['group']}: offsets reset to {target} on "
             f"{len(reset['partitions'])} partitions")
    result = await consume(settings, subscribers, topics, group, idle_timeout=idle_timeout,
                           replay=rehandle, until_caught_up=True)
    return result


# --- outbox: the database only (works in zero-infra mode too) ---

@contextlib.asynccontextmanager
async def outbox_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = database.create_engine(settings)
    try:
        if settings.database.should_migrate_on_start:
            await migrations.upgrade(engine)
        async with database.create_sessionmaker(engine)() as session:
            yield session
    except SQLAlchemyError as exc:
        raise CommandError(f"database (DATABASE_URL): {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0]}") from None
    finally:
        await database.dispose(engine, 5.0)


async def outbox_status(settings: Settings) -> dict[str, Any]:
    async with outbox_session(settings) as session:
        pending, oldest, dead = await outbox.pending_stats(session)
    return {"pending": pending, "oldest_pending": oldest.isoformat() if oldest else None,
            "dead": dead}


async def outbox_dead(settings: Settings, limit: int) -> list[dict[str, Any]]:
    async with outbox_session(settings) as session:
        rows = await outbox.list_dead(session, limit)
    return [{**row, "created_at": row["created_at"].isoformat() if row["created_at"] else None,
             "dead_at": row["dead_at"].isoformat()} for row in rows]


async def outbox_requeue(settings: Settings, seqs: list[int] | None) -> dict[str, Any]:
    async with outbox_session(settings) as session, session.begin():
        requeued, too_large = await outbox.requeue(session, seqs)
    missing = sorted(set(seqs or []) - set(requeued) - set(too_large))
    return {"requeued": requeued, "too_large": too_large, "not_dead": missing}
