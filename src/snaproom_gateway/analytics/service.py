"""Profile view counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.analytics.models import ProfileViewCount
from snaproom_gateway.users.deletion import purge_step
from snaproom_gateway.users.models import User


async def views_of(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(
        select(ProfileViewCount.views).where(ProfileViewCount.user_id == user_id)) or 0)


async def record_view(session: AsyncSession, profile_user_id: int, at: datetime) -> bool:
    """Add one view atomically (an upsert); False when the profile no longer exists."""
    if await session.scalar(select(User.id).where(User.id == profile_user_id)) is None:
        return False
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ProfileViewCount).values(user_id=profile_user_id, views=1,
                                                last_viewed_at=at)
    statement = statement.on_conflict_do_update(
        index_elements=[ProfileViewCount.user_id],
        set_={"views": ProfileViewCount.views + 1, "last_viewed_at": at})
    await session.execute(statement)
    return True


@purge_step("profile_views")
async def purge_profile_views(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(ProfileViewCount).where(ProfileViewCount.user_id == user_id))
