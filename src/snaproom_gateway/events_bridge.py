"""Where the domain reaches the events package: the one import of its publisher and `handles`.

Until the events branch is merged, `events.publisher` and `events.handlers` do not exist here;
then a stand-in (events_standin.py) writes the same outbox rows and keeps the handler registry.
Delete this fallback and events_standin.py when the events package lands.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

try:  # pragma: no cover - which branch wins depends on the merge
    from snaproom_gateway.events import publisher
    from snaproom_gateway.events.handlers import handles
except ImportError:  # the events branch is not merged yet
    from snaproom_gateway import events_standin as publisher
    from snaproom_gateway.events_standin import handles

__all__ = ["handler_session", "handles", "publisher"]


def handler_session(ctx: Any) -> AsyncSession:
    """The runner's session of a delivery: `ctx.session` in the contract, `ctx.session()` in the
    events branch as of this writing; either way the runner commits it, never the handler."""
    session = ctx.session
    return session() if callable(session) else session
