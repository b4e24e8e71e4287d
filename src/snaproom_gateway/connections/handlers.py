"""The connections domain's step of the user deletion saga (run by the user.deleted consumer)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.connections import service


async def purge_connections(session: AsyncSession, user_id: int) -> None:
    await service.purge_user(session, user_id)


purge_steps = {"connections": purge_connections}
