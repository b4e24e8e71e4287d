"""Connection requests: create, answer, list. Plain functions, the database session first.

The functions add to the caller's transaction and publish through the outbox; the router commits.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.connections import events
from snaproom_gateway.connections.exceptions import (
    AlreadyRequested,
    ConnectionNotFound,
    NotAddressee,
    NotPending,
    SelfConnection,
    UnknownUser,
)
from snaproom_gateway.connections.models import Connection
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.models import User

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


def pair(user_a: int, user_b: int) -> tuple[int, int]:
    return (user_a, user_b) if user_a <= user_b else (user_b, user_a)


def cache_tag(user_id: int) -> str:
    """The tag of a user's cached connection lists (the cache helper invalidates it on
    connection.* events for both sides)."""
    return f"connections:{user_id}"


async def between(session: AsyncSession, user_a: int, user_b: int) -> Connection | None:
    low, high = pair(user_a, user_b)
    return await session.scalar(select(Connection).where(Connection.user_low == low,
                                                         Connection.user_high == high))


async def are_connected(session: AsyncSession, user_a: int, user_b: int) -> bool:
    row = await between(session, user_a, user_b)
    return row is not None and row.status == ACCEPTED


async def request(session: AsyncSession, requester_id: int, addressee_id: int) -> Connection:
    """A new pending request. A rejected one may be asked again: the row is reused."""
    if requester_id == addressee_id:
        raise SelfConnection()
    addressee = await users_service.get(session, addressee_id)
    if addressee is None or addressee.status != users_service.ACTIVE:
        raise UnknownUser()
    row = await between(session, requester_id, addressee_id)
    if row is not None and row.status != REJECTED:
        raise AlreadyRequested(row.status)
    if row is None:
        low, high = pair(requester_id, addressee_id)
        row = Connection(requester_id=requester_id, addressee_id=addressee_id, user_low=low,
                         user_high=high, status=PENDING, created_at=datetime.now(UTC))
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:  # a concurrent request for the same pair won the race
            await session.rollback()
            raise AlreadyRequested(PENDING) from None
    else:
        row.requester_id, row.addressee_id = requester_id, addressee_id
        row.status, row.created_at, row.responded_at = PENDING, datetime.now(UTC), None
        await session.flush()
    await events.connection_changed(session, "connection.requested", row, requester_id)
    return row


async def answer(session: AsyncSession, connection_id: int, user_id: int, accept: bool
                 ) -> Connection:
    """Accept or reject, by the addressee only. The row is locked against a concurrent answer."""
    row = await session.scalar(select(Connection).where(Connection.id == connection_id)
                               .with_for_update())
    if row is None:
        raise ConnectionNotFound()
    if row.addressee_id != user_id:
        raise NotAddressee()
    if row.status != PENDING:
        raise NotPending(row.status)
    row.status = ACCEPTED if accept else REJECTED
    row.responded_at = datetime.now(UTC)
    await session.flush()
    event = "connection.accepted" if accept else "connection.rejected"
    await events.connection_changed(session, event, row, user_id)
    return row


async def list_with_peers(session: AsyncSession, user_id: int, *, status: str,
                          incoming_only: bool = False, outgoing_only: bool = False
                          ) -> list[tuple[Connection, User]]:
    """The user's connections of one status, each with the other side (active users only)."""
    if incoming_only:
        mine = Connection.addressee_id == user_id
    elif outgoing_only:
        mine = Connection.requester_id == user_id
    else:
        mine = or_(Connection.requester_id == user_id, Connection.addressee_id == user_id)
    peer_id = Connection.user_low + Connection.user_high - user_id
    query = (select(Connection, User)
             .join(User, and_(User.id == peer_id, User.status == users_service.ACTIVE))
             .where(mine, Connection.status == status)
             .order_by(Connection.id.desc()).limit(1000))
    return [(c, u) for c, u in (await session.execute(query)).all()]


async def peer_ids(session: AsyncSession, user_id: int) -> list[int]:
    """Ids of the user's accepted connections (who sees this user's presence)."""
    rows = await session.execute(
        select(Connection.user_low, Connection.user_high).where(
            or_(Connection.requester_id == user_id, Connection.addressee_id == user_id),
            Connection.status == ACCEPTED).limit(5000))
    return [low if high == user_id else high for low, high in rows.all()]


async def purge_user(session: AsyncSession, user_id: int) -> None:
    """Remove every connection of a deleted user (idempotent)."""
    await session.execute(delete(Connection).where(
        or_(Connection.requester_id == user_id, Connection.addressee_id == user_id)))
