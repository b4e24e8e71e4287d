"""Handler module loaded by tests through EVENTS_HANDLER_MODULES: group IT_EFFECT_GROUP writes one
row per handled event (IT_EFFECT_PATTERN) into it_effects, in the transaction that records the event id."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import text

from snaproom_gateway.events.subscribers import Subscribers

subscribers = Subscribers()


@subscribers.subscriber(os.environ.get("IT_EFFECT_PATTERN", "user.*"),
                        group=os.environ.get("IT_EFFECT_GROUP", "it-effects"))
async def record_effect(envelope, ctx) -> None:
    delay = float(os.environ.get("IT_EFFECT_DELAY", "0"))
    if delay:
        await asyncio.sleep(delay)
    await ctx.session().execute(
        text("INSERT INTO it_effects (grp, event_id, user_id, n) VALUES (:g, :e, :u, :n)"),
        {"g": ctx.group, "e": envelope.id, "u": envelope.user_id, "n": envelope.payload.get("n")})
