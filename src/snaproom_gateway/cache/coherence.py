"""Keeps every instance's L1 coherent: a subscriber on the invalidation channel.

Each invalidation script PUBLISHes the tags (or keys) it removed; every instance drops its L1
entries for them when the message arrives. Pub/sub is fire-and-forget, so whenever the
subscription is not known to be live (start-up, a dropped connection, a Sentinel failover) the
L1 is switched off and cleared, and switched back on only when Redis confirms a fresh
SUBSCRIBE: an instance can miss a message only while it is not serving from L1. The Kafka
consumers' invalidations remain the durable path for the Redis tier itself.

The channel is read by a thread, not by an asyncio task. Under load one pass of the event loop
answers every in-flight request (64 connections × ~130 µs ≈ 9 ms), and a task woken by the
channel's bytes runs only in the pass after they arrive: the drop lagged 1–2 passes (p99 32 ms
at 64 connections). The thread blocks on the socket with the GIL released, parses the message
and puts it in `inbox`; the cache applies the inbox before its next L1 read (`drain`, on the
loop's thread, so the L1 itself is never touched by two threads), and a loop callback drains it
when no read comes. The lag becomes the thread's wait for the GIL, not a pass of the loop.
The thread uses redis-py's blocking client, which has the same Sentinel discovery, AUTH and TLS
as the async one (infra/redis.subscriber_client builds it, without retries, so a dropped
connection surfaces here at once rather than inside a retry loop).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable

import orjson
from redis import Redis

from snaproom_gateway.cache.keys import INVALIDATION_CHANNEL
from snaproom_gateway.infra.redis import close_subscriber_client
from snaproom_gateway.infra.waiting import wait_set

log = logging.getLogger(__name__)

POLL = 0.1           # how often the thread looks at its stop flag while the channel is quiet
# A thread woken by a message waits for the GIL up to the interpreter's switch interval (5 ms by
# default) while the loop's thread runs Python. The gateway has no other thread that wants the
# GIL for long, so a shorter interval costs nothing but bounds that wait; measured under the
# signed-in load, the drop's p99 over a bare redis-py client went from 5-17 ms to 4-8 ms.
SWITCH_INTERVAL = 0.0005
JOIN_TIMEOUT = 2.0   # closing waits this long for the thread (a socket call is bounded by 1 s)
LIVE, DARK = object(), object()


class InvalidationSubscriber:
    def __init__(self, client: Redis, *, instance_id: str,
                 on_message: Callable[[list[str], list[str]], None],
                 on_live: Callable[[bool], None]) -> None:
        self.client = client
        self.instance_id = instance_id
        self.on_message = on_message
        self.on_live = on_live
        self.live = False
        self.messages = 0
        self.reconnects = 0
        # Filled by the thread, emptied on the loop: deque appends and pops are atomic.
        self.inbox: deque[object] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = asyncio.Event()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._run_forever, daemon=True,
                                        name="cache-invalidation-subscriber")
        self._thread.start()

    async def wait_live(self, timeout: float) -> bool:
        self.drain()
        return await wait_set(self._subscribed, timeout)

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, JOIN_TIMEOUT)
            self._thread = None
        self.inbox.clear()
        self._set_live(False)

    def drain(self) -> None:
        """Apply what the thread received, in order. Runs on the event loop's thread."""
        inbox = self.inbox
        while inbox:
            item = inbox.popleft()
            if item is LIVE or item is DARK:
                self._set_live(item is LIVE)
            else:
                tags, keys = item  # type: ignore[misc]
                self.on_message(tags, keys)

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self.on_live(live)
        if live:
            self._subscribed.set()
        else:
            self._subscribed.clear()

    def _post(self, item: object) -> None:
        self.inbox.append(item)
        try:
            self._loop.call_soon_threadsafe(self.drain)  # type: ignore[union-attr]
        except RuntimeError:  # the loop is closed: the process is stopping
            self._stop.set()

    # --- the thread -------------------------------------------------------------------------

    def _run_forever(self) -> None:
        delay = 0.05
        live = False
        while not self._stop.is_set():
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(INVALIDATION_CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=POLL)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        self._receive(message["data"])
                    elif message.get("type") == "subscribe":
                        # Redis now delivers every later PUBLISH to us: the L1 may serve.
                        live = True
                        self._post(LIVE)
                        delay = 0.05
            except Exception as exc:  # any failure of the subscription: go dark, then retry
                if live:
                    log.warning("cache invalidation channel lost (%r); L1 off until back", exc)
                live = False
                self._post(DARK)
                self.reconnects += 1
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)
            finally:
                try:
                    pubsub.close()
                except Exception:  # the connection is gone already
                    pass
        try:
            close_subscriber_client(self.client)
        except Exception:  # closing: the connection may be gone already
            pass

    def _receive(self, data: bytes) -> None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("ignoring a malformed cache invalidation message")
            return
        self.messages += 1
        if payload.get("origin") == self.instance_id:
            return  # this instance dropped its own L1 entries when it invalidated
        self._post((list(payload.get("tags", ())), list(payload.get("keys", ()))))
