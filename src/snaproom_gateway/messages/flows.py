"""Sending a message end to end (a flow, apart from CRUD), shared by HTTP and the WebSocket.

1. In one transaction: the message row, message.sent, and when the receiver is offline a
   notification.created for them (the notifications consumer stores it). Kafka is not involved
   in the commit: the outbox relays the events when it can.
2. After the commit, best effort: append to the conversation's recent-messages set and push
   {"type": "message"} to both users' sockets on every instance. Neither can fail the send.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.cache import domain_cache
from snaproom_gateway.cache.keys import conversation_tag
from snaproom_gateway.events import publisher
from snaproom_gateway.messages import service
from snaproom_gateway.messages.cached_answers import (
    NEWEST_PAGE_LIMIT,
    newest_page_key,
    newest_page_tags,
)
from snaproom_gateway.presence import service as presence
from snaproom_gateway.realtime import service as realtime

log = logging.getLogger(__name__)

PREVIEW_CHARS = 140


async def send(state: Any, session: AsyncSession, sender_id: int, receiver_id: int,
               text: str) -> dict[str, Any]:
    row = await service.create(session, sender_id, receiver_id, text)
    if not await presence.is_online(state, receiver_id):
        await publisher.publish(session, "notification.created", user_id=receiver_id, data={
            "channel": "in_app", "kind": "message.received",
            "payload": {"message_id": row.id, "from_user_id": sender_id,
                        "preview": text[:PREVIEW_CHARS]}})
    await session.commit()
    message = service.as_dict(row)
    try:
        await state.recent_messages.append(sender_id, receiver_id, row.id, service.as_bytes(row))
    except Exception as exc:
        # The set may now miss this message: drop it so the next read refills from the database.
        log.warning("recent messages append failed (%r); dropping the conversation's set", exc)
        try:
            await state.recent_messages.drop(sender_id, receiver_id)
        except Exception:
            log.error("could not drop the recent messages of %s-%s", sender_id, receiver_id)
    # Again after the append: a read between the commit's drop and the append may have cached
    # a newest page without this message.
    await domain_cache.invalidate_tags(state, [conversation_tag(sender_id, receiver_id)])
    await realtime.push(state, [sender_id, receiver_id], {"type": "message", "message": message})
    return message


async def read(state: Any, session: AsyncSession, reader_id: int, peer_id: int, *, limit: int,
               before: int | None) -> list[bytes]:
    """A page of the conversation, oldest first, as serialized messages (MessageOut JSON).

    The newest page comes from the recent set as stored: no parsing on the hot path.
    """
    store = state.recent_messages
    recent_page = before is None and limit <= state.settings.realtime.recent_messages_limit
    if recent_page:
        try:
            cached = await store.read(reader_id, peer_id)
        except Exception as exc:
            log.warning("recent messages read failed: %r", exc)
            cached = None
        if cached is not None:
            return cached[-limit:]
    size = max(limit, state.settings.realtime.recent_messages_limit) if recent_page else limit
    rows = await service.conversation(session, reader_id, peer_id, limit=size, before=before)
    items = [(r.id, service.as_bytes(r)) for r in rows]
    if recent_page:
        try:
            await store.fill(reader_id, peer_id, items)
        except Exception as exc:
            log.warning("recent messages fill failed: %r", exc)
    return [item for _, item in items[-limit:]]


async def newest_page(state: Any, reader_id: int, peer_id: int) -> bytes:
    """The newest page's body through the cache (cached_answers: the fast path serves it);
    dropped by every message of the conversation."""
    async def load() -> bytes:
        async with state.sessionmaker() as own:
            items = await read(state, own, reader_id, peer_id, limit=NEWEST_PAGE_LIMIT,
                               before=None)
        return page_json(items, NEWEST_PAGE_LIMIT)

    return await domain_cache.get_or_load(
        state, newest_page_key(reader_id, peer_id), load,
        ttl=state.settings.realtime.recent_messages_ttl, tags=newest_page_tags(reader_id, peer_id))


def page_json(items: list[bytes], limit: int) -> bytes:
    """The MessagePage body, joined from the stored messages."""
    next_before = orjson.loads(items[0])["id"] if items and len(items) == limit else None
    return b'{"items":[' + b",".join(items) + b'],"next_before":' + orjson.dumps(next_before) + b"}"
