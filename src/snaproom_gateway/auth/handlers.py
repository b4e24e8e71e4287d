"""The auth domain's step of the user deletion saga: the user's sessions go with the account."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.auth import sessions


async def purge_sessions(session: AsyncSession, user_id: int) -> None:
    await sessions.revoke_all(session, user_id)


purge_steps = {"sessions": purge_sessions}
session_revocation = sessions.REVOCATION
