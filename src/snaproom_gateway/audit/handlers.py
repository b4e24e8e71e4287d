"""Consumer of audit-events: every audit.<action> becomes one row of the trail."""

from __future__ import annotations

from snaproom_gateway.audit import service
from snaproom_gateway.events.envelope import Envelope
from snaproom_gateway.events.subscribers import HandlerContext, Subscribers

subscribers = Subscribers()


@subscribers.subscriber("audit.*", group="audit")
async def record(envelope: Envelope, ctx: HandlerContext) -> None:
    data = envelope.data.data or {}
    action = data.get("action") or envelope.data.event.removeprefix("audit.")
    context = data.get("context")
    await service.append(
        ctx.session(), event_id=str(envelope.id), action=str(action),
        user_id=envelope.data.user_id,
        context=context if isinstance(context, dict) else {"value": context},
        correlation_id=envelope.correlation_id, occurred_at=envelope.timestamp)
