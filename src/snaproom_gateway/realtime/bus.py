"""Fan-out of realtime pushes to every gateway instance: Redis pub/sub, or in-process.

A push names its recipients and a JSON payload. Every instance subscribes to one channel and
hands each push to its local WebSocket hub, which delivers to the sockets of the recipients it
holds (usually none). Pub/sub is fire-and-forget on purpose: a realtime push missed during a
Redis outage is not lost data, since the messages and notifications are in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.infra.redis_guard import guarded

log = logging.getLogger(__name__)

CHANNEL = "snaproom:v1:realtime"
PROBE_INTERVAL = 5.0  # seconds between health pings of an idle subscription
Deliver = Callable[[list[int], dict[str, Any]], Awaitable[None]]


class RealtimeUnavailable(Exception):
    pass


class RealtimeBus(Protocol):
    async def start(self, deliver: Deliver) -> None: ...
    async def publish(self, user_ids: list[int], payload: dict[str, Any]) -> None: ...
    async def close(self) -> None: ...
    @property
    def healthy(self) -> bool: ...


class MemoryRealtimeBus:
    """One process: a push goes straight to the local hub."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, user_ids: list[int], payload: dict[str, Any]) -> None:
        if self._deliver is not None:
            await self._deliver(user_ids, payload)

    async def close(self) -> None:
        self._deliver = None

    @property
    def healthy(self) -> bool:
        return True


class RedisRealtimeBus:
    """PUBLISH on the master; a background task keeps a SUBSCRIBE open and reconnects.

    After a Sentinel failover the old connection breaks; the loop backs off and subscribes again
    through `master_for`, which asks the Sentinels for the new master.
    """

    def __init__(self, clients: RedisClients, timeout: float, breaker: Any = None,
                 concurrency: int = 16) -> None:
        self._redis = clients.master
        self._timeout = timeout
        self._breaker = breaker
        # Publishes in flight at once. A drained backlog pushes thousands together; unbounded,
        # they emptied the Redis pool (MaxConnectionsError) and opened the breaker. The wait
        # for a turn is outside the breaker's timed call, so waiting is never a failure.
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        # redis-py's pub/sub reconnects and resubscribes inside get_message, so a dead Redis
        # shows first in failed publishes: the last one decides health until one succeeds.
        self._publish_failing = False

    @property
    def healthy(self) -> bool:
        return self._subscribed.is_set() and not self._publish_failing

    async def start(self, deliver: Deliver) -> None:
        self._task = asyncio.create_task(self._listen_forever(deliver), name="realtime-bus")
        # Wait briefly for the first SUBSCRIBE, so a push right after start-up reaches us;
        # a Redis that is down does not hold up start-up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), self._timeout * 3)

    async def publish(self, user_ids: list[int], payload: dict[str, Any]) -> None:
        message = orjson.dumps({"to": user_ids, "payload": payload})
        try:
            async with self._slots:
                await guarded(self._breaker, lambda: self._redis.publish(CHANNEL, message),
                              self._timeout)
        except Exception as exc:
            self._publish_failing = True
            raise RealtimeUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._publish_failing = False

    async def _listen_forever(self, deliver: Deliver) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.subscribe(CHANNEL), self._timeout * 2)
                self._subscribed.set()
                delay = 0.1
                probed = time.monotonic()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if time.monotonic() - probed > PROBE_INTERVAL:
                        probed = time.monotonic()
                        await self._probe()
                    if message is None or message.get("type") != "message":
                        continue
                    await self._hand_over(deliver, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                log.warning("realtime bus subscription lost (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 1.0)

    async def _probe(self) -> None:
        """Health without traffic: a failed publish marks the bus failing until this succeeds."""
        try:
            await asyncio.wait_for(self._redis.ping(), self._timeout)
        except Exception:
            self._publish_failing = True
        else:
            self._publish_failing = False

    @staticmethod
    async def _hand_over(deliver: Deliver, raw: bytes) -> None:
        try:
            decoded = orjson.loads(raw)
            user_ids = [int(uid) for uid in decoded["to"]]
            payload = decoded["payload"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignored a malformed realtime push")
            return
        try:
            await deliver(user_ids, payload)
        except Exception:  # one bad delivery must not end the subscription
            log.exception("realtime delivery failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 2.0)
            self._task = None
        self._subscribed.clear()


def create_realtime_bus(clients: RedisClients | None, timeout: float, breaker: Any = None,
                        concurrency: int = 16) -> RealtimeBus:
    if clients is None:
        return MemoryRealtimeBus()
    return RedisRealtimeBus(clients, timeout, breaker, concurrency)
