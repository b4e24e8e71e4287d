"""The events of the connections domain (contract: connection_id, from_user_id, to_user_id).

from/to always name the request's direction (requester -> addressee), whoever acts; the
envelope's user_id is the actor.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.connections.models import Connection
from snaproom_gateway.events import publisher


async def connection_changed(session: AsyncSession, event: str, row: Connection,
                             actor_id: int) -> None:
    await publisher.publish(session, event, user_id=actor_id, data={
        "connection_id": row.id, "from_user_id": row.requester_id,
        "to_user_id": row.addressee_id})
