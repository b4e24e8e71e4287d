"""What the app runs of the event backbone, built in one call from the lifespan:

the outbox relay (to Kafka, or to the in-process bus), one supervised consumer task per
subscribed group, and the health components `outbox` and `consumers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.bus import InProcessBus
from snaproom_gateway.events.consumer import KafkaGroupRunner, kafka_dead_letter, runner_health
from snaproom_gateway.events.dispatch import DeadLetterSink, Dispatcher
from snaproom_gateway.events.kafka_sink import KafkaSink
from snaproom_gateway.events.offsets import OffsetReader, kafka_group_id
from snaproom_gateway.events.relay import OutboxRelay
from snaproom_gateway.events.subscribers import Pushes, Subscribers
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.infra.schema_guard import SchemaGuard

log = logging.getLogger(__name__)


async def supervise(name: str, run: Callable[[], Awaitable[None]],
                    stopping: Callable[[], bool]) -> None:
    """Run `run()` until `stopping()`; a crash is logged and the task restarted with backoff."""
    delay = 0.5
    while not stopping():
        try:
            await run()
            delay = 0.5
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting in %.1fs", name, delay)
        if stopping():
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


class EventsHost(Protocol):
    """What the event backbone reads of the app's runtime (api/runtime.py), and the field it
    sets."""

    events: EventsRuntime

    @property
    def settings(self) -> Settings: ...
    @property
    def subscribers(self) -> Subscribers: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def schema_guard(self) -> SchemaGuard: ...
    @property
    def kafka(self) -> KafkaConnection | None: ...
    @property
    def cache(self) -> TaggedCache: ...
    @property
    def realtime_bus(self) -> Pushes: ...
    @property
    def handler_slots(self) -> asyncio.Semaphore: ...
    @property
    def health_components(self) -> dict[str, Callable[[], dict[str, Any]]]: ...


class EventsRuntime:
    def __init__(self, host: EventsHost) -> None:
        self.host = host
        self.settings = settings = host.settings
        self.kafka = host.kafka
        self.bus: InProcessBus | None = None
        self.runners: list[KafkaGroupRunner] = []
        self.reader: OffsetReader | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stop_event = asyncio.Event()
        if self.kafka is not None:
            sink: Any = KafkaSink(self.kafka, settings)
            self.reader = OffsetReader(settings)
        else:
            sink = self.bus = InProcessBus(host.subscribers, self._dispatcher)
        self.relay = OutboxRelay(host.engine, host.sessionmaker, settings, sink)
        if self.kafka is not None and settings.events.consumers_enabled:
            self.runners = [self._runner(group, broadcast)
                            for group, broadcast in host.subscribers.groups().items()]

    def _dispatcher(self, group: str, broadcast: bool, dead_letter: DeadLetterSink) -> Dispatcher:
        host = self.host
        return Dispatcher(
            group, subscribers=host.subscribers, sessionmaker=host.sessionmaker,
            settings=self.settings, slots=host.handler_slots, dead_letter=dead_letter,
            services=host, broadcast=broadcast)

    def _runner(self, group: str, broadcast: bool) -> KafkaGroupRunner:
        assert self.kafka is not None
        dispatcher = self._dispatcher(
            group, broadcast,
            kafka_dead_letter(self.kafka, group, self.settings.kafka.close_timeout + 5))
        # Broadcast: every instance reads everything from now on, without a group (no commits).
        group_id = None if broadcast else kafka_group_id(self.settings, group)
        return KafkaGroupRunner(self.settings, self.kafka, dispatcher,
                                self.host.subscribers.topics_for_group(group), group_id,
                                from_latest=broadcast)

    async def start(self) -> None:
        self.tasks.append(asyncio.create_task(
            supervise("outbox relay", lambda: self._when_schema_current(self.relay.run),
                      lambda: self._stopping),
            name="outbox-relay"))
        for runner in self.runners:
            self.tasks.append(asyncio.create_task(
                supervise(f"consumer {runner.group_id or runner.dispatcher.group}",
                          lambda r=runner: self._run_consumer(r), lambda: self._stopping),
                name=f"consumer-{runner.dispatcher.group}"))

    async def _when_schema_current(self, run: Callable[[], Awaitable[None]]) -> None:
        # On an unmigrated database every round would fail (and warn); wait for `migrate`.
        await self.host.schema_guard.wait_current(lambda: self._stopping)
        if not self._stopping:
            await run()

    async def _run_consumer(self, runner: KafkaGroupRunner) -> None:
        # Consumers start once the topics exist (the relay's sink ensures them).
        ready = asyncio.create_task(self.relay.sink.ready_event.wait())
        stop = asyncio.create_task(self._stop_event.wait())
        await asyncio.wait([ready, stop], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        stop.cancel()
        if not self._stopping:
            await self._when_schema_current(runner.run)

    async def stop(self) -> None:
        """Let each task finish its batch and commit, within EVENTS_SHUTDOWN_TIMEOUT."""
        self._stopping = True
        self._stop_event.set()
        self.relay.stop()
        for runner in self.runners:
            runner.stop()
        if self.tasks:
            _, late = await asyncio.wait(self.tasks, timeout=self.settings.events.shutdown_timeout)
            for task in late:
                log.warning("%s did not stop in time; cancelling", task.get_name())
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.reader is not None:
            await self.reader.close()

    # -- health components (sync: /api/health/full calls them inline)

    def outbox_health(self) -> dict[str, Any]:
        return self.relay.health()

    def consumers_health(self) -> dict[str, Any]:
        if self.bus is not None:
            return {"mode": "in-process", "groups": self.bus.health(), "total_lag": 0}
        groups = {r.dispatcher.group: runner_health(r) for r in self.runners}
        return {"mode": "kafka", "groups": groups,
                "total_lag": sum(g["lag"] or 0 for g in groups.values())}


async def start(runtime: EventsHost, stack: AsyncExitStack) -> None:
    """Build and start the event backbone; its stop is pushed on the lifespan's exit stack."""
    events = runtime.events = EventsRuntime(runtime)
    await events.start()
    stack.push_async_callback(events.stop)
    runtime.health_components["outbox"] = events.outbox_health
    runtime.health_components["consumers"] = events.consumers_health
