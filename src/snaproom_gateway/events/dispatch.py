"""Hands delivered messages to a group's handlers: validate, de-duplicate, retry, dead-letter.

Used alike by the Kafka consumer runner and the in-process bus, so both give the same guarantees:

* a message that is not a valid envelope of a catalogued event goes to the dead-letter sink;
* in a non-broadcast group, the event ids of a batch are recorded in `processed_events` in one
  statement, in the same transaction as the handlers' work (`ctx.session()`), so a redelivered
  event has no second effect;
* a failing handler is retried a few times, then the event goes to the dead-letter sink with the
  error and the group moves on;
* when the database itself is unreachable nothing is dead-lettered: `DispatchUnavailable` tells
  the runner to back off and redeliver the same messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events import processed
from snaproom_gateway.events.catalog import validate_data
from snaproom_gateway.events.envelope import Envelope
from snaproom_gateway.events.subscribers import (
    Handler,
    HandlerContext,
    HandlerServices,
    Subscribers,
)
from snaproom_gateway.metrics import events as event_metrics
from snaproom_gateway.observability.request_context import event_context, request_id
from snaproom_gateway.observability.tracecontext import consumer_scope
from snaproom_gateway.resilience.classify import is_pool_exhausted

log = logging.getLogger(__name__)

# Errors that say "the database is away", not "this event is bad".
# A pool checkout that timed out (PoolTimeout) is load, not a bad event: the same back-off.
_UNAVAILABLE = (OperationalError, InterfaceError, ConnectionError, OSError, TimeoutError,
                PoolTimeout)


class DispatchUnavailable(Exception):
    """The database could not be reached: redeliver later, dead-letter nothing."""


@dataclass
class Delivery:
    """One message as delivered: the raw value and where it came from."""

    value: bytes
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    envelope: Envelope | None = None
    # The message's Kafka headers (traceparent, correlation_id, ...), as aiokafka gives them.
    headers: Sequence[tuple[str, bytes]] = ()

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def trace_headers(self) -> list[tuple[str, bytes]]:
        """The headers a dead letter keeps: the trace context and the correlation id."""
        return [(k, v) for k, v in self.headers if k in ("traceparent", "correlation_id")]


@contextlib.contextmanager
def handling(delivery: Delivery, group: str) -> Iterator[None]:
    """While a delivery is handled: every log line says which event, where it came from and
    which request caused it (its correlation id and trace), and events the handlers publish
    continue that trace and correlation id."""
    envelope = delivery.envelope
    correlation = envelope.correlation_id if envelope is not None else None
    if correlation is None and (raw := delivery.header("correlation_id")) is not None:
        correlation = raw.decode("latin-1")
    info = {"event_id": envelope.id if envelope is not None else None,
            "event_name": envelope.event if envelope is not None else None,
            "topic": delivery.topic, "partition": delivery.partition,
            "offset": delivery.offset, "group": group}
    event_token = event_context.set(info)
    request_token = request_id.set(correlation)
    try:
        with consumer_scope(delivery.header("traceparent"), delivery.topic, group, info):
            yield
    finally:
        request_id.reset(request_token)
        event_context.reset(event_token)


DeadLetterSink = Callable[[Delivery, str], Awaitable[None]]


class _HandlerFailed(Exception):
    def __init__(self, handler: str, error: BaseException) -> None:
        super().__init__(f"{handler}: {type(error).__name__}: {error}")
        self.error = error


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if is_pool_exhausted(exc):  # load: back off and redeliver, never dead-letter for it
        return True
    return isinstance(exc, _UNAVAILABLE)


class Dispatcher:
    def __init__(self, group: str, *, subscribers: Subscribers,
                 sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                 slots: asyncio.Semaphore, dead_letter: DeadLetterSink,
                 services: HandlerServices | None = None, broadcast: bool = False,
                 replay: bool = False, fallback: Handler | None = None) -> None:
        self.group = group
        self.subscribers = subscribers
        self.broadcast = broadcast
        self.sessionmaker = sessionmaker
        self.settings = settings
        # The cache and realtime bus handlers get (None where the process holds none: the
        # CLI). Read at each delivery, as the runtime's current ones.
        self.services = services
        self.dead_letter = dead_letter
        # Replay re-runs handlers for events already handled (to rebuild read models).
        self.replay = replay
        # Used when the group has no registered handlers (the CLI's echo consumer).
        self.fallback = fallback
        self.handled = 0
        self.skipped = 0
        self.dead_lettered = 0
        # The process's one semaphore for handler batches, shared by every group's dispatcher.
        self._slots = slots

    def _handlers(self, event: str) -> list[tuple[str, Handler]]:
        regs = self.subscribers.handlers_for(self.group, event)
        if regs:
            return [(r.name, r.fn) for r in regs]
        if self.fallback is not None and not self.subscribers.registrations(self.group):
            return [("fallback", self.fallback)]
        return []

    async def handle_batch(self, deliveries: Sequence[Delivery]) -> None:
        """Handle messages in order. Raises DispatchUnavailable when the database is away."""
        valid: list[Delivery] = []
        seen: set[str] = set()
        for delivery in deliveries:
            error = self._parse(delivery)
            if error is not None:
                await self._dead_letter(delivery, error)
                continue
            assert delivery.envelope is not None
            if delivery.envelope.id in seen:
                self.skipped += 1
                continue
            seen.add(delivery.envelope.id)
            if self._handlers(delivery.envelope.event):
                valid.append(delivery)
        if not valid:
            return
        try:
            await self._run(valid)
            return
        except _HandlerFailed as exc:
            if _is_unavailable(exc.error):
                raise DispatchUnavailable(str(exc)) from exc
            log.info("group %s: a handler failed in a batch of %d; handling one by one",
                     self.group, len(valid))
        except IntegrityError:
            pass  # another consumer recorded one of these ids meanwhile: sort it out one by one
        except _UNAVAILABLE as exc:
            raise DispatchUnavailable(str(exc)) from exc
        for delivery in valid:
            await self._handle_one(delivery)

    def _parse(self, delivery: Delivery) -> str | None:
        try:
            envelope = Envelope.from_bytes(delivery.value)
            validate_data(envelope.event, envelope.payload)
        except ValueError as exc:  # JSON, pydantic and EventSchemaError are all ValueErrors
            return f"{type(exc).__name__}: {exc}"[:2000]
        delivery.envelope = envelope
        return None

    async def _handle_one(self, delivery: Delivery) -> None:
        attempts = self.settings.events.handler_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                await self._run([delivery])
                return
            except IntegrityError:
                self.skipped += 1  # recorded by another consumer of the group: done there
                return
            except _HandlerFailed as exc:
                if _is_unavailable(exc.error):
                    raise DispatchUnavailable(str(exc)) from exc
                error = str(exc)
                with handling(delivery, self.group):
                    log.warning("group %s: %s failed (attempt %d/%d): %s", self.group,
                                delivery.envelope.event if delivery.envelope else "?", attempt,
                                attempts, error)
                if attempt < attempts:
                    event_metrics.retried(delivery.topic)
            except _UNAVAILABLE as exc:
                raise DispatchUnavailable(str(exc)) from exc
            if attempt < attempts:
                await asyncio.sleep(self.settings.events.retry_backoff * 2 ** (attempt - 1))
        await self._dead_letter(delivery, f"handler failed {attempts} times: {error}")

    async def _run(self, batch: list[Delivery]) -> None:
        """One transaction: record the ids, run the handlers, commit. Rolls back on any error.

        At most EVENTS_HANDLER_CONCURRENCY groups do this at once in the process: each holds a
        pooled connection meanwhile, and a backlog must leave connections for requests."""
        async with self._slots:
            await self._run_batch(batch)

    async def _run_batch(self, batch: list[Delivery]) -> None:
        envelopes = [d.envelope for d in batch if d.envelope is not None]
        if self.broadcast:
            ctx = self._context(None)
            try:
                for delivery in batch:
                    await self._call(delivery, ctx)
                if ctx._session is not None:
                    await ctx._session.commit()
            finally:
                if ctx._session is not None:
                    await ctx._session.close()
            self.handled += len(envelopes)
            event_metrics.consumed(self.group, batch)
            return
        async with self.sessionmaker() as session:
            # Claims the ids at once: a concurrent consumer of the same id waits here, then
            # skips it (one round trip for the whole batch, instead of a SELECT and an INSERT).
            new = await processed.record(session, self.group, [e.id for e in envelopes])
            todo = batch if self.replay else [d for d in batch if d.envelope.id in new]
            self.skipped += len(envelopes) - len(todo)
            if not todo:
                return
            ctx = self._context(session)
            for delivery in todo:
                await self._call(delivery, ctx)
            await session.commit()
            self.handled += len(todo)
            event_metrics.consumed(self.group, todo)

    def _context(self, session: AsyncSession | None) -> HandlerContext:
        services = self.services
        return HandlerContext(self.sessionmaker, self.settings,
                              cache=services.cache if services is not None else None,
                              realtime_bus=services.realtime_bus if services is not None else None,
                              group=self.group, replay=self.replay, _session=session)

    async def _call(self, delivery: Delivery, ctx: HandlerContext) -> None:
        envelope = delivery.envelope
        with handling(delivery, self.group):
            log.debug("handling %s", envelope.event)
            for name, fn in self._handlers(envelope.event):
                try:
                    await fn(envelope, ctx)
                except Exception as exc:
                    raise _HandlerFailed(name, exc) from exc

    async def _dead_letter(self, delivery: Delivery, error: str) -> None:
        with handling(delivery, self.group):
            log.warning("group %s: dead-lettering %s[%s]@%s: %s", self.group, delivery.topic,
                        delivery.partition, delivery.offset, error)
        await self.dead_letter(delivery, error)
        self.dead_lettered += 1
        event_metrics.dead_lettered(delivery.topic)
