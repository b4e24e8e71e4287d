"""The messages domain's step of the user deletion saga.

The conversations' recent-message sets are left to expire: reading a conversation with a user
who is not active answers 404, so no one reads them meanwhile.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.messages import service


async def purge_messages(session: AsyncSession, user_id: int) -> None:
    await service.purge_user(session, user_id)


purge_steps = {"messages": purge_messages}
