"""Event subscribers, registered explicitly: each domain exports a `Subscribers` and the app
includes them in a stated order (api/subscriptions.py), as FastStream's `include_router` does.

    subscribers = Subscribers()

    @subscribers.subscriber("user.*", group="cache", broadcast=True)
    async def drop_user_cache(envelope: Envelope, ctx: HandlerContext) -> None: ...

`group` is a logical consumer group: each group gets every event once (one Kafka consumer group
`<KAFKA_CONSUMER_GROUP_ID>.<group>`). Within a group the runner records each handled event id
in `processed_events` in the same transaction as the handlers' work done through
`ctx.session()`, so a redelivered event has no second effect. `broadcast=True` groups run on every
instance (per-instance consumer from the latest offset, e.g. cache invalidation) and keep no
processed-events record: their handlers must be naturally idempotent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.catalog import matches, topics_for_pattern
from snaproom_gateway.events.envelope import Envelope


class Pushes(Protocol):
    """What a handler may push to users' sockets through (the realtime bus)."""

    async def publish(self, user_ids: list[int], payload: dict[str, Any]) -> None: ...


class HandlerServices(Protocol):
    """What the process holds for handlers (the app's runtime), read at each delivery."""

    @property
    def cache(self) -> TaggedCache | None: ...
    @property
    def realtime_bus(self) -> Pushes | None: ...


@dataclass
class HandlerContext:
    """What a handler may use. `session()` is the transaction the event id is recorded in.

    `cache` and `realtime_bus` are None where the process holds none (the CLI's consumers)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    cache: TaggedCache | None = None
    realtime_bus: Pushes | None = None
    group: str = ""
    replay: bool = False
    _session: AsyncSession | None = field(default=None, repr=False)

    def session(self) -> AsyncSession:
        """The runner's session for this delivery; committed by the runner after the handlers."""
        if self._session is None:
            self._session = self.sessionmaker()
        return self._session


Handler = Callable[[Envelope, HandlerContext], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    pattern: str
    group: str
    broadcast: bool
    fn: Handler

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


class Subscribers:
    """An ordered set of subscriptions: a domain's, or the app's once it included them all."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []

    def subscriber(self, event_pattern: str, *, group: str, broadcast: bool = False
                   ) -> Callable[[Handler], Handler]:
        """Subscribe `fn` to events matching `event_pattern` (exact name, `prefix.*` or `*`)."""
        if not topics_for_pattern(event_pattern):
            raise ValueError(f"{event_pattern!r} matches no event of the catalog")

        def register(fn: Handler) -> Handler:
            self.add(Subscription(event_pattern, group, broadcast, fn))
            return fn

        return register

    def add(self, sub: Subscription) -> None:
        for existing in self.subscriptions:
            if existing.group == sub.group and existing.broadcast != sub.broadcast:
                raise ValueError(f"group {sub.group!r} is registered both broadcast and not")
        if not any(s.name == sub.name and s.pattern == sub.pattern and s.group == sub.group
                   for s in self.subscriptions):
            self.subscriptions.append(sub)

    def include(self, other: Subscribers) -> Subscribers:
        """Add `other`'s subscriptions after these (handlers of a group run in this order)."""
        for sub in other.subscriptions:
            self.add(sub)
        return self

    def remove(self, fn: Handler) -> None:
        """Remove every subscription of `fn` (tests)."""
        self.subscriptions[:] = [s for s in self.subscriptions if s.fn is not fn]

    def registrations(self, group: str | None = None) -> list[Subscription]:
        return [s for s in self.subscriptions if group is None or s.group == group]

    def groups(self) -> dict[str, bool]:
        """Every subscribed group and whether it is broadcast."""
        return {s.group: s.broadcast for s in self.subscriptions}

    def handlers_for(self, group: str, event: str) -> list[Subscription]:
        return [s for s in self.subscriptions if s.group == group and matches(s.pattern, event)]

    def topics_for_group(self, group: str) -> list[str]:
        found: set[str] = set()
        for sub in self.registrations(group):
            found |= topics_for_pattern(sub.pattern)
        return sorted(found)
