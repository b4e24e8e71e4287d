"""What the app runs of the event backbone, built in one call from the lifespan:

the outbox relay (to Kafka, or to the in-process bus), one supervised consumer task per
registered handler group, and the health components `outbox` and `consumers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events import handlers as registry
from snaproom_gateway.events.bus import InProcessBus
from snaproom_gateway.events.consumer import KafkaGroupRunner, kafka_dead_letter, runner_health
from snaproom_gateway.events.dispatch import Dispatcher
from snaproom_gateway.events.kafka_sink import KafkaSink
from snaproom_gateway.events.offsets import OffsetReader, kafka_group_id
from snaproom_gateway.events.registry import import_handler_modules
from snaproom_gateway.events.relay import OutboxRelay

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


class EventsRuntime:
    def __init__(self, state: Any, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.kafka = state.kafka
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
            sink = self.bus = InProcessBus(state.sessionmaker, settings, state)
        self.relay = OutboxRelay(state.engine, state.sessionmaker, settings, sink)
        if self.kafka is not None and settings.events.consumers_enabled:
            self.runners = [self._runner(group, broadcast)
                            for group, broadcast in registry.groups().items()]

    def _runner(self, group: str, broadcast: bool) -> KafkaGroupRunner:
        dispatcher = Dispatcher(
            group, sessionmaker=self.state.sessionmaker, settings=self.settings,
            state=self.state, broadcast=broadcast,
            dead_letter=kafka_dead_letter(self.kafka, group, self.settings.kafka.close_timeout + 5))
        # Broadcast: every instance reads everything from now on, without a group (no commits).
        group_id = None if broadcast else kafka_group_id(self.settings, group)
        return KafkaGroupRunner(self.settings, self.kafka, dispatcher,
                                registry.topics_for_group(group), group_id,
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
        guard = getattr(self.state, "schema_guard", None)
        if guard is not None:
            await guard.wait_current(lambda: self._stopping)
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


async def start_events(state: Any, stack: AsyncExitStack) -> EventsRuntime:
    """Build and start the event backbone; its stop is pushed on the lifespan's exit stack."""
    settings: Settings = state.settings
    import_handler_modules(settings)
    runtime = EventsRuntime(state, settings)
    await runtime.start()
    stack.push_async_callback(runtime.stop)
    state.health_components["outbox"] = runtime.outbox_health
    state.health_components["consumers"] = runtime.consumers_health
    return runtime
