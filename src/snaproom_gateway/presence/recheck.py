"""Presence of a user with sockets on several instances.

When a user's last socket on one instance closes, that instance marks them offline and asks
every instance (RECHECK on the bus) whether it still holds a socket of theirs; one that does
marks them online again at once and tells their connections, instead of leaving them shown
offline until its next refresh.
"""

from __future__ import annotations

import logging
from typing import Any

from snaproom_gateway.presence import service as presence
from snaproom_gateway.presence.store import PresenceState

log = logging.getLogger(__name__)

RECHECK = "presence:recheck"  # internal: never sent to a client


async def still_here(state: Any, user_ids: list[int]) -> None:
    held = set(state.realtime_hub.users())
    for user_id in user_ids:
        if user_id not in held:
            continue
        try:
            seen = await state.presence.touch(user_id, state.settings.realtime.presence_ttl)
            async with state.sessionmaker() as session:
                await presence.announce(state, session, user_id, PresenceState(True, seen))
        except Exception as exc:
            log.warning("presence recheck of %s failed: %r", user_id, exc)
