"""Consumer of analytics-events: profile view counts."""

from __future__ import annotations

import logging
from typing import Any

from snaproom_gateway.analytics import service
from snaproom_gateway.events.handlers import handles

log = logging.getLogger(__name__)


@handles("profile.viewed", group="analytics")
async def count_profile_view(envelope: Any, ctx: Any) -> None:
    data = envelope.data.data or {}
    profile_user_id = data.get("profile_user_id", envelope.data.user_id)
    if profile_user_id is None:
        return
    if not await service.record_view(ctx.session(), int(profile_user_id),
                                     envelope.timestamp):
        log.info("profile view of missing user %s ignored", profile_user_id)
