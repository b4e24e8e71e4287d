"""Profile view counters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.analytics.models import ProfileViewCount
from snaproom_gateway.cache import domain_cache
from snaproom_gateway.cache.stale import mark_stale
from snaproom_gateway.core.constants import user_tag
from snaproom_gateway.users import events
from snaproom_gateway.users.cached_answers import views_key
from snaproom_gateway.users.models import User


async def views_of(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(
        select(ProfileViewCount.views).where(ProfileViewCount.user_id == user_id)) or 0)


def views_tag(user_id: int) -> str:
    return f"profile_views:{user_id}"


VIEWS_CACHE_TTL = 300


async def cached_views(state: Any, user_id: int) -> int:
    """The profile's view count, through the cache (the batches' commits drop it)."""
    async def load() -> bytes:
        async with state.sessionmaker() as own:
            return str(await views_of(own, user_id)).encode()

    body = await domain_cache.get_or_load(state, views_key(user_id), load, ttl=VIEWS_CACHE_TTL,
                                          tags=(views_tag(user_id), user_tag(user_id)))
    return int(body)


# PostgreSQL: the whole batch is two array parameters, whatever its size (a multi-row VALUES of
# thousands of rows took tens of ms of the event loop to compile, at every flush); views of a
# deleted profile are dropped by the join.
_PG_ADD_VIEWS = text("""
INSERT INTO profile_views (user_id, views, last_viewed_at)
SELECT batch.user_id, batch.views, :now
FROM unnest(CAST(:ids AS bigint[]), CAST(:counts AS bigint[])) AS batch(user_id, views)
JOIN users ON users.id = batch.user_id
ON CONFLICT (user_id) DO UPDATE
SET views = profile_views.views + excluded.views, last_viewed_at = excluded.last_viewed_at
RETURNING user_id
""")


async def add_views(session: AsyncSession, counts: Mapping[int, int]) -> None:
    """Add a batch of views in the caller's transaction: one upsert for every profile that still
    exists (views of a deleted one are dropped), and one profile.views_counted analytics event
    with the batch's counts. The cached counts go after the commit."""
    if not counts:
        return
    now = datetime.now(UTC)
    ids = sorted(counts)
    if session.bind.dialect.name == "postgresql":
        existing = set((await session.scalars(_PG_ADD_VIEWS, {
            "now": now, "ids": ids, "counts": [counts[i] for i in ids]})).all())
    else:
        existing = set((await session.scalars(select(User.id).where(User.id.in_(ids)))).all())
        if existing:
            rows = [{"user_id": user_id, "views": counts[user_id], "last_viewed_at": now}
                    for user_id in sorted(existing)]
            statement = sqlite_insert(ProfileViewCount).values(rows)
            await session.execute(statement.on_conflict_do_update(
                index_elements=[ProfileViewCount.user_id],
                set_={"views": ProfileViewCount.views + statement.excluded.views,
                      "last_viewed_at": statement.excluded.last_viewed_at}))
    if not existing:
        return
    await events.profile_views_counted(session, {user_id: counts[user_id] for user_id in existing})
    mark_stale(session, [views_tag(user_id) for user_id in existing])


async def purge_profile_views(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(ProfileViewCount).where(ProfileViewCount.user_id == user_id))
