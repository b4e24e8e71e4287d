"""Consumers of user-events for the users domain: the deletion saga.

Caches are dropped by cache.invalidation (broadcast to every instance), not here.
"""

from __future__ import annotations

from typing import Any

from snaproom_gateway.cache import domain_cache
from snaproom_gateway.events.handlers import handles
from snaproom_gateway.users import deletion

USERS_LIST_TAG = "users:list"


@handles("user.deleted", group="user-deletion")
async def complete_user_deletion(envelope: Any, ctx: Any) -> None:
    user_id = envelope.data.user_id
    if user_id is None:
        return
    await deletion.finish(ctx.session(), ctx.settings, int(user_id))
    await domain_cache.invalidate_tags(ctx.state, [*domain_cache.user_tags(ctx.state, user_id),
                                                   deletion.session_revocation().user_tag(user_id),
                                                   USERS_LIST_TAG])
