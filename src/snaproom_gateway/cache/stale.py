"""Read-your-writes: the cache tags a transaction makes stale are dropped right after its commit.

The publisher marks, on the session, the tags each event it writes will invalidate; the session's
after-commit hook (infra/database.HookedSession) drops them in the request, from Redis and from
every instance's L1 (the invalidation channel), before the answer leaves. The event consumers'
invalidation stays the durable backstop for a drop that failed here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

STALE_TAGS = "snaproom_stale_tags"


def mark_stale(session: Any, tags: Iterable[str]) -> None:
    """Drop `tags` once this session's transaction commits (nothing if it rolls back)."""
    tags = list(tags)
    if tags:
        session.info.setdefault(STALE_TAGS, set()).update(tags)


def drop_after_commit(cache: Any) -> Callable[[Any], Awaitable[None]]:
    """The after-commit hook of the app's sessions: invalidate what the transaction marked."""

    async def drop(session: Any) -> None:
        tags = session.info.pop(STALE_TAGS, None)
        if not tags:
            return
        try:
            await cache.invalidate_tags(sorted(tags))
        except Exception as exc:  # committed already: the consumers' invalidation follows
            log.warning("cache drop after commit of %s failed (%r); the event consumers "
                        "will invalidate them", sorted(tags), exc)

    return drop


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(STALE_TAGS, None)
