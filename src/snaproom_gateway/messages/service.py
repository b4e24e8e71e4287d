"""Messages: store one, read a conversation, purge a user's. Database session first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.connections import service as connections_service
from snaproom_gateway.events import publisher
from snaproom_gateway.messages.exceptions import NotConnected, SelfMessage, UnknownRecipient
from snaproom_gateway.messages.models import Message
from snaproom_gateway.users import service as users_service


def as_dict(row: Message) -> dict[str, Any]:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return {"id": row.id, "from_user_id": row.sender_id, "to_user_id": row.receiver_id,
            # The same text pydantic gives MessageOut, so every path answers identically.
            "text": row.text, "created_at": created.isoformat().replace("+00:00", "Z")}


def as_bytes(row: Message) -> bytes:
    return orjson.dumps(as_dict(row))


async def create(session: AsyncSession, sender_id: int, receiver_id: int, text: str) -> Message:
    """Store a message to a connection and publish message.sent, in the caller's transaction."""
    if sender_id == receiver_id:
        raise SelfMessage()
    receiver = await users_service.get(session, receiver_id)
    if receiver is None or receiver.status != users_service.ACTIVE:
        raise UnknownRecipient()
    if not await connections_service.are_connected(session, sender_id, receiver_id):
        raise NotConnected()
    low, high = connections_service.pair(sender_id, receiver_id)
    row = Message(sender_id=sender_id, receiver_id=receiver_id, user_low=low, user_high=high,
                  text=text, created_at=datetime.now(UTC))
    session.add(row)
    await session.flush()
    await publisher.publish(session, "message.sent", user_id=sender_id, data={
        "message_id": row.id, "from_user_id": sender_id, "to_user_id": receiver_id,
        "text": text})
    return row


async def conversation(session: AsyncSession, user_a: int, user_b: int, *, limit: int,
                       before: int | None = None) -> list[Message]:
    """The newest `limit` messages (older than `before`), oldest first."""
    low, high = connections_service.pair(user_a, user_b)
    query = select(Message).where(Message.user_low == low, Message.user_high == high)
    if before is not None:
        query = query.where(Message.id < before)
    rows = list((await session.scalars(query.order_by(Message.id.desc()).limit(limit))).all())
    rows.reverse()
    return rows


async def purge_user(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(Message).where(
        or_(Message.sender_id == user_id, Message.receiver_id == user_id)))
