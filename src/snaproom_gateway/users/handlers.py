"""Consumers of user-events for the users domain: the deletion saga.

Caches are dropped by the cache's broadcast consumer (rules in users/cache_tags.py), not here.
"""

from __future__ import annotations

from snaproom_gateway.cache import domain_cache
from snaproom_gateway.events.envelope import Envelope
from snaproom_gateway.events.subscribers import HandlerContext, Subscribers
from snaproom_gateway.users import deletion
from snaproom_gateway.users.cache_tags import USERS_LIST_TAG

subscribers = Subscribers()


@subscribers.subscriber("user.deleted", group="user-deletion")
async def complete_user_deletion(envelope: Envelope, ctx: HandlerContext) -> None:
    user_id = envelope.data.user_id
    if user_id is None:
        return
    await deletion.finish(ctx.session(), ctx.settings, int(user_id))
    # The context holds the instance's cache (None in the CLI's consumers).
    await domain_cache.invalidate_tags(ctx, [*domain_cache.user_tags(ctx, user_id),
                                             deletion.session_revocation().user_tag(user_id),
                                             USERS_LIST_TAG])
