"""The outbox relay: publishes pending outbox rows to a sink (Kafka, or the in-process bus) and
marks them sent, in seq order per key.

It wakes right after a commit that wrote outbox rows (in-process signal; PostgreSQL NOTIFY from
other instances) and polls every OUTBOX_POLL_INTERVAL as a fallback. While the sink fails it backs
off and probes with a single row, so a dead Kafka is not flooded and nothing is lost: rows stay
pending in the database until a send is acknowledged (acks=all). A row Kafka can never take
(too large, refused for itself) is dead-lettered instead of retried forever (events/dead_rows.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events import dead_rows, outbox
from snaproom_gateway.events.dead_rows import DeadRow
from snaproom_gateway.events.kafka_sink import PendingDelivery
from snaproom_gateway.events.outbox import OutboxRow
from snaproom_gateway.events.wakeup import OUTBOX_CHANNEL, add_waker, remove_waker
from snaproom_gateway.metrics import events as event_metrics
from snaproom_gateway.observability import tracecontext

log = logging.getLogger(__name__)
PRUNE_EVERY = 60.0
STATS_EVERY = 1.0


class Sink(Protocol):
    name: str

    async def ready(self) -> bool:
        """True when sends can be attempted (connected, topics in place)."""

    async def send(self, rows: list[OutboxRow]) -> list[BaseException | None]:
        """Publish rows in order; one result per row (None = acknowledged, PendingDelivery =
        still held by the sink, to be settled later)."""

    async def settle(self, pending: list[Any]) -> list[BaseException | None]:
        """Wait again for deliveries an earlier send left pending."""

    def refuses_row(self, error: BaseException | None) -> bool:
        """True when `error` says the sink refused that row itself, for good."""

    async def dead_letter(self, row: OutboxRow, error: str) -> BaseException | None:
        """Record a row that can never be sent (`<topic>.dlq`); None once recorded."""


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession],
                 settings: Settings, sink: Sink) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.sink = sink
        self.signal = asyncio.Event()
        self.sent_total = 0
        self.failures = 0
        self.failing = False
        self.last_error: str | None = None
        self.last_sent_at: datetime | None = None
        self.pending: int | None = None
        self.dead: int | None = None
        self.oldest_pending: datetime | None = None
        self.state = "starting"
        self._stopping = False
        self._waker: Any = None
        self._inflight: list[tuple[OutboxRow, PendingDelivery]] = []
        # The background marking of the last round (PostgreSQL only: SQLite locks no rows, so
        # a claim during the marking would take the same rows again).
        self._overlap = engine.dialect.name == "postgresql"
        self._marking: asyncio.Task[int] | None = None
        self._marking_seqs: frozenset[int] = frozenset()

    # -- lifecycle

    def stop(self) -> None:
        self._stopping = True
        self.signal.set()

    async def run(self) -> None:
        self._waker = add_waker(asyncio.get_running_loop(), self.signal)
        listener = None
        if self.engine.dialect.name == "postgresql":
            listener = asyncio.create_task(self._listen(), name="outbox-listen")
        try:
            await self._loop()
            await self.flush()  # the last round is marked sent before we stop
        finally:
            if self._marking is not None:  # cancelled: its rows stay pending (sent again later)
                self._marking.cancel()
                await asyncio.gather(self._marking, return_exceptions=True)
            remove_waker(self._waker)
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            self.state = "stopped"

    async def _loop(self) -> None:
        backoff = 0.2
        backlog = False
        last_prune = last_stats = 0.0
        while not self._stopping:
            self.signal.clear()
            now = time.monotonic()
            if now - last_stats >= STATS_EVERY:
                last_stats = now
                await self._refresh_stats()
            if now - last_prune >= PRUNE_EVERY:
                last_prune = now
                await self._prune()
            try:
                ready = await self.sink.ready()
                sent = await self.relay_once() if ready else -1
            except Exception as exc:  # database or sink trouble: back off, nothing is lost
                sent = -1
                self._failed(f"{type(exc).__name__}: {exc}")
            if sent < 0:
                if not self.last_error:
                    self.last_error = f"{self.sink.name} not ready"
                self.state = "backing-off"
                await self._wait(backoff)
                backoff = min(backoff * 2, self.settings.events.outbox_backoff_max)
                continue
            backoff = 0.2
            self.state = "running"
            if sent >= self.settings.events.outbox_batch_size:
                backlog = True
                continue
            if backlog:
                backlog = False
                await self._analyze()
            await self._wait(self.settings.events.outbox_poll_interval)

    async def _wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.signal.wait()

    # -- one round

    async def relay_once(self) -> int:
        """Claim a batch, send it, mark it. Returns rows sent, or -1 when the sink failed.

        On PostgreSQL a fully acknowledged round is marked sent in the background while the
        next round is claimed and sent: its rows stay locked until marked, so no relay claims
        them twice, and they are in Kafka already, so later rows of their keys may follow."""
        if self._inflight:
            return await self._settle_inflight()
        # After a failure probe with one row: a dead broker is not handed thousands of rows.
        # Not when the brokers refuse some topics (ACLs): the oldest row would be refused every
        # time and hold back the topics that are allowed.
        probe = self.failing and not getattr(self.sink, "denied_topics", None)
        limit = 1 if probe else self.settings.events.outbox_batch_size
        marking, acknowledged = self._marking, self._marking_seqs
        session = self.sessionmaker()
        try:
            rows = await outbox.claim(session, limit, acknowledged)
            results = await self._send(rows) if rows else []
            # One marking at a time, in round order: the last round's must succeed before
            # this one is marked in its turn.
            if marking is not None:
                self._marking = None
                self._marking_seqs = frozenset()
                if await marking < 0:
                    if rows:
                        await self._mark_and_commit(session, rows, results)
                    else:
                        await session.close()
                    return -1
            if not rows:
                await session.close()
                return 0
        except BaseException:
            await session.close()
            raise
        if self._overlap and all(error is None or isinstance(error, DeadRow) for error in results):
            self._marking_seqs = frozenset(row.seq for row in rows)
            self._marking = asyncio.create_task(
                self._mark_and_commit(session, rows, results), name="outbox-mark")
            return len(rows)
        return await self._mark_and_commit(session, rows, results)

    async def _send(self, rows: list[OutboxRow]) -> list[BaseException | None]:
        """The sink's results for the rows. A row Kafka can never take is dead-lettered
        (events/dead_rows.py), DeadRow once its notice is recorded: one over MAX_EVENT_BYTES is
        not sent at all; one the brokers refuse for itself when sent alone (a topic with a
        lower size limit) is dead-lettered after that refusal."""
        dead = {row.seq: dead_rows.reason(row) for row in rows if dead_rows.too_large(row)}
        rest = [row for row in rows if row.seq not in dead]
        if tracecontext.otel is not None and rest:  # a PRODUCER span per row, its header sent
            spans, traced = tracecontext.otel.start_sends(rest)
            results = await self.sink.send(traced)
            tracecontext.otel.end_sends(spans, results)
        else:
            results = await self.sink.send(rest) if rest else []
        if len(rest) == 1 and self.sink.refuses_row(results[0]):
            dead[rest[0].seq] = (f"refused by Kafka when sent alone: "
                                 f"{type(results[0]).__name__}: {results[0]}")
        if not dead:
            return results
        sent = dict(zip((row.seq for row in rest), results, strict=True))
        merged: list[BaseException | None] = []
        for row in rows:
            if row.seq not in dead:
                merged.append(sent[row.seq])
                continue
            failure = await self.sink.dead_letter(row, dead[row.seq])
            if failure is None:
                log.error("outbox: row %d (%s, event %s) is dead: %s", row.seq, row.topic,
                          row.event_id, dead[row.seq])
                event_metrics.dead_lettered(row.topic)
            merged.append(DeadRow(dead[row.seq]) if failure is None else failure)
        return merged

    async def flush(self) -> int:
        """Wait for the marking under way, if any; -1 if it failed."""
        marking, self._marking, self._marking_seqs = self._marking, None, frozenset()
        return await marking if marking is not None else 0

    async def _mark_and_commit(self, session: AsyncSession, rows: list[OutboxRow],
                               results: list[BaseException | None]) -> int:
        try:
            await self._mark(session, rows, results)
            await session.commit()
        except Exception as exc:  # database away: the rows stay pending (sent again later)
            self._failed(f"{type(exc).__name__}: {exc}")
            return -1
        finally:
            await session.close()
        return self._account(rows, results)

    async def _settle_inflight(self) -> int:
        """Deliveries the producer still holds from an earlier round are awaited, not resent
        (resending would duplicate them); no new rows are claimed meanwhile, so no key's later
        event overtakes them."""
        if await self.flush() < 0:
            return -1
        rows = [row for row, _ in self._inflight]
        results = await self.sink.settle([pending for _, pending in self._inflight])
        async with self.sessionmaker() as session, session.begin():
            await self._mark(session, rows, results)
        return self._account(rows, results)

    async def _mark(self, session: AsyncSession, rows: list[OutboxRow],
                    results: list[BaseException | None]) -> None:
        sent = [row.seq for row, error in zip(rows, results, strict=True) if error is None]
        dead = [(row.seq, error) for row, error in zip(rows, results, strict=True)
                if isinstance(error, DeadRow)]
        failed = [(row.seq, error) for row, error in zip(rows, results, strict=True)
                  if error is not None and not isinstance(error, DeadRow)]
        await outbox.mark_sent(session, sent)
        for seq, error in dead:  # rare: one UPDATE each, each with its own reason
            await outbox.mark_dead(session, [seq], str(error))
        if failed:
            error = failed[0][1]
            await outbox.mark_failed(session, [seq for seq, _ in failed],
                                     f"{type(error).__name__}: {error}")

    def _account(self, rows: list[OutboxRow], results: list[BaseException | None]) -> int:
        sent = sum(error is None for error in results)
        self._inflight = [(row, error) for row, error in zip(rows, results, strict=True)
                          if isinstance(error, PendingDelivery)]
        self.sent_total += sent
        if sent:
            self.last_sent_at = datetime.now(UTC)
            event_metrics.published(row.topic for row, error in zip(rows, results, strict=True)
                                    if error is None)
        errors = [error for error in results
                  if error is not None and not isinstance(error, DeadRow)]
        if errors:
            self._failed(f"{type(errors[0]).__name__}: {errors[0]}")
            return -1
        if self.failing:
            log.info("outbox relay: %s accepts events again", self.sink.name)
        self.failing = False
        self.last_error = None
        return len(rows)

    def _failed(self, message: str) -> None:
        if not self.failing:
            log.warning("outbox relay: publishing failed, rows stay pending: %s", message)
        self.failing = True
        self.failures += 1
        self.last_error = message[:500]

    # -- housekeeping

    async def _refresh_stats(self) -> None:
        try:
            async with self.sessionmaker() as session:
                self.pending, self.oldest_pending, self.dead = await outbox.pending_stats(session)
        except Exception as exc:  # health reporting only
            log.debug("outbox stats unavailable: %r", exc)

    async def _prune(self) -> None:
        try:
            async with self.sessionmaker() as session, session.begin():
                removed = await outbox.prune(
                    session, timedelta(hours=self.settings.events.outbox_retention_hours))
            if removed:
                log.info("outbox: pruned %d sent rows", removed)
        except Exception as exc:
            log.warning("outbox prune failed: %r", exc)

    async def _analyze(self) -> None:
        """Refresh the planner's statistics once a backlog has drained. After a burst (say, a
        Kafka outage) they still count thousands of pending rows, and PostgreSQL then scans
        the whole table for each claim instead of the partial index of unsent rows."""
        if self.engine.dialect.name != "postgresql":
            return
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("ANALYZE outbox"))
                await connection.commit()
        except Exception as exc:  # statistics only
            log.debug("ANALYZE outbox failed: %r", exc)

    async def _listen(self) -> None:
        """LISTEN for commits of other instances; reconnect with backoff when the server goes."""
        delay = 0.5
        while True:
            try:
                async with self.engine.connect() as connection:
                    raw = await connection.get_raw_connection()
                    driver = raw.driver_connection
                    await driver.add_listener(OUTBOX_CHANNEL, lambda *_: self.signal.set())
                    delay = 0.5
                    while not driver.is_closed():
                        await asyncio.sleep(5)
                        async with asyncio.timeout(5):
                            await driver.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("outbox LISTEN lost (%r); reconnecting in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def health(self) -> dict[str, Any]:
        oldest_age = None
        if self.oldest_pending is not None:
            oldest_age = round((datetime.now(UTC) - self.oldest_pending).total_seconds(), 1)
        return {
            "status": "degraded" if self.failing else "healthy",
            "state": self.state,
            "sink": self.sink.name,
            "pending": self.pending,
            "dead": self.dead,
            "oldest_age_s": oldest_age,
            "sent_total": self.sent_total,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_sent_at": self.last_sent_at.isoformat() if self.last_sent_at else None,
        }
