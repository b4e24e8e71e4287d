"""The handler registry. Domain modules register plain async functions by importing:

    @handles("user.*", group="cache", broadcast=True)
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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.catalog import matches, topics_for_pattern
from snaproom_gateway.events.envelope import Envelope


@dataclass
class HandlerContext:
    """What a handler may use. `session()` is the transaction the event id is recorded in."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    state: Any
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
class Registration:
    pattern: str
    group: str
    broadcast: bool
    fn: Handler

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


_registry: list[Registration] = []


def handles(event_pattern: str, *, group: str, broadcast: bool = False
            ) -> Callable[[Handler], Handler]:
    """Register `fn` for events matching `event_pattern` (exact name, `prefix.*` or `*`)."""
    if not topics_for_pattern(event_pattern):
        raise ValueError(f"{event_pattern!r} matches no event of the catalog")

    def register(fn: Handler) -> Handler:
        for existing in _registry:
            if existing.group == group and existing.broadcast != broadcast:
                raise ValueError(f"group {group!r} is registered both broadcast and not")
        reg = Registration(event_pattern, group, broadcast, fn)
        if not any(r.name == reg.name and r.pattern == reg.pattern and r.group == group
                   for r in _registry):
            _registry.append(reg)
        return fn

    return register


def unregister(fn: Handler) -> None:
    """Remove every registration of `fn` (tests)."""
    _registry[:] = [r for r in _registry if r.fn is not fn]


def registrations(group: str | None = None) -> list[Registration]:
    return [r for r in _registry if group is None or r.group == group]


def groups() -> dict[str, bool]:
    """Every registered group and whether it is broadcast."""
    return {r.group: r.broadcast for r in _registry}


def handlers_for(group: str, event: str) -> list[Registration]:
    return [r for r in _registry if r.group == group and matches(r.pattern, event)]


def topics_for_group(group: str) -> list[str]:
    found: set[str] = set()
    for reg in registrations(group):
        found |= topics_for_pattern(reg.pattern)
    return sorted(found)
