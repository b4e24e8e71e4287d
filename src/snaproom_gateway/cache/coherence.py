"""Keeps every instance's L1 coherent: a subscriber on the invalidation channel.

Each invalidation script PUBLISHes the tags (or keys) it removed; every instance drops its L1
entries for them when the message arrives. Pub/sub is fire-and-forget, so whenever the
subscription is not known to be live (start-up, a dropped connection, a Sentinel failover) the
L1 is switched off and cleared, and switched back on only when Redis confirms a fresh
SUBSCRIBE: an instance can miss a message only while it is not serving from L1. The subscriber
has its own connection without retries (redis_store.subscriber_client), so a dropped connection
surfaces here at once instead of inside redis-py's retry loop. The Kafka consumers'
invalidations remain the durable path for the Redis tier itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
from redis.asyncio import Redis

from snaproom_gateway.cache.keys import INVALIDATION_CHANNEL
from snaproom_gateway.infra.waiting import wait_set

log = logging.getLogger(__name__)


class InvalidationSubscriber:
    def __init__(self, client: Redis, *, instance_id: str,
                 on_message: Callable[[list[str], list[str]], None],
                 on_live: Callable[[bool], None], connect_timeout: float = 2.0) -> None:
        self.client = client
        self.instance_id = instance_id
        self.on_message = on_message
        self.on_live = on_live
        self.connect_timeout = connect_timeout
        self.live = False
        self.messages = 0
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="cache-invalidation-subscriber")

    async def wait_live(self, timeout: float) -> bool:
        return await wait_set(self._subscribed, timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._set_live(False)
        try:
            async with asyncio.timeout(1.0):
                await self.client.aclose()
        except Exception:  # closing: the connection may be gone already
            pass

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self.on_live(live)
        if live:
            self._subscribed.set()
        else:
            self._subscribed.clear()

    async def _run_forever(self) -> None:
        delay = 0.05
        while True:
            pubsub = self.client.pubsub()
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await pubsub.subscribe(INVALIDATION_CHANNEL)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        self._handle(message["data"])
                    elif message.get("type") == "subscribe":
                        # Redis now delivers every later PUBLISH to us: the L1 may serve.
                        self._set_live(True)
                        delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the subscription: go dark, then retry
                if self.live:
                    log.warning("cache invalidation channel lost (%r); L1 off until back", exc)
                self._set_live(False)
                self.reconnects += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                try:
                    async with asyncio.timeout(1.0):
                        await pubsub.aclose()
                except Exception:  # the connection is gone already
                    pass

    def _handle(self, data: bytes) -> None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("ignoring a malformed cache invalidation message")
            return
        self.messages += 1
        if payload.get("origin") == self.instance_id:
            return  # this instance dropped its own L1 entries when it invalidated
        self.on_message(list(payload.get("tags", ())), list(payload.get("keys", ())))
