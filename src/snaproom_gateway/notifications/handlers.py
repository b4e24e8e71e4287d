"""The notifications consumer: connection-events and notification-events become in-app
notifications, pushed at once to the user's open sockets on any instance.

Idempotent twice over: the runner records each event id per group, and a notification row
carries its event's id (unique), so a replay cannot notify twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.events.envelope import Envelope
from snaproom_gateway.events.subscribers import HandlerContext, Subscribers
from snaproom_gateway.notifications import service
from snaproom_gateway.realtime import service as realtime

log = logging.getLogger(__name__)
subscribers = Subscribers()


_pushes: set[asyncio.Task[bool]] = set()  # running pushes, kept from the garbage collector


def _push_after_commit(session: AsyncSession, ctx: HandlerContext, user_id: int,
                       frame: dict[str, Any]) -> None:
    """The runner commits the handler's session; push only then, so a client that reacts by
    reading /api/notifications finds the row, and a rolled-back attempt pushes nothing."""

    def committed(_session: Any) -> None:
        task = asyncio.get_running_loop().create_task(realtime.push(ctx, [user_id], frame))
        _pushes.add(task)
        task.add_done_callback(_pushes.discard)

    event.listen(session.sync_session, "after_commit", committed, once=True)


async def _notify(ctx: HandlerContext, user_id: int, kind: str, payload: dict[str, Any],
                  event_id: str) -> None:
    session = ctx.session()  # the runner commits it with the processed-event record
    row = await service.create(session, user_id, kind, payload, event_id)
    if row is not None:
        _push_after_commit(session, ctx, user_id,
                           {"type": "notification", "notification": service.as_dict(row)})


@subscribers.subscriber("connection.*", group="notifications")
async def notify_connection_change(envelope: Envelope, ctx: HandlerContext) -> None:
    """A request notifies the addressee; an acceptance notifies the requester."""
    event, data = envelope.data.event, envelope.data.data
    try:
        requester, addressee = int(data["from_user_id"]), int(data["to_user_id"])
        connection_id = int(data["connection_id"])
    except (KeyError, TypeError, ValueError):
        log.warning("%s %s without its ids; no notification", event, envelope.id)
        return
    if event == "connection.requested":
        await _notify(ctx, addressee, event, {"connection_id": connection_id,
                                              "from_user_id": requester}, envelope.id)
    elif event == "connection.accepted":
        await _notify(ctx, requester, event, {"connection_id": connection_id,
                                              "by_user_id": addressee}, envelope.id)


@subscribers.subscriber("notification.created", group="notifications")
async def store_notification(envelope: Envelope, ctx: HandlerContext) -> None:
    """in_app notifications are stored and pushed; email and push have no provider here."""
    data, user_id = envelope.data.data, envelope.data.user_id
    if user_id is None:
        return
    if data.get("channel") != "in_app":
        log.info("notification %s on channel %s: no provider configured", envelope.id,
                 data.get("channel"))
        return
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    await _notify(ctx, int(user_id), str(data.get("kind") or "notification")[:64], payload,
                  envelope.id)


async def purge_notifications(session: AsyncSession, user_id: int) -> None:
    """The notifications domain's step of the user deletion saga."""
    await service.purge_user(session, user_id)


purge_steps = {"notifications": purge_notifications}
