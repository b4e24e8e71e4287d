"""What the domains contribute to the event backbone, included in a stated order.

Each domain exports its subscribers (`<domain>/handlers.py`), its steps of the user deletion
saga (`purge_steps`) and the cache tags its events make stale (`<domain>/cache_tags.py`); this
module is the one place that includes them, as FastStream's `include_router` does. Nothing
registers itself by being imported.
"""

from __future__ import annotations

import importlib

from snaproom_gateway.analytics import handlers as analytics_handlers
from snaproom_gateway.audit import handlers as audit_handlers
from snaproom_gateway.auth import handlers as auth_handlers
from snaproom_gateway.cache import invalidation
from snaproom_gateway.connections import handlers as connections_handlers
from snaproom_gateway.connections.cache_tags import connection_cache_tags
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.subscribers import Subscribers
from snaproom_gateway.messages import handlers as messages_handlers
from snaproom_gateway.messages.cache_tags import message_cache_tags
from snaproom_gateway.notifications import handlers as notifications_handlers
from snaproom_gateway.users import deletion
from snaproom_gateway.users import handlers as users_handlers
from snaproom_gateway.users.cache_tags import user_cache_tags


def include_domains(settings: Settings) -> Subscribers:
    """Include every domain's purge steps and cache tag rules; return the app's subscribers."""
    # Users depends on no other domain: auth hands the saga how sessions end.
    deletion.revoke_sessions_with(auth_handlers.session_revocation)
    # The saga runs its steps in this order, inside one savepoint.
    deletion.include_purge_steps(
        auth_handlers.purge_steps,
        analytics_handlers.purge_steps,
        connections_handlers.purge_steps,
        messages_handlers.purge_steps,
        notifications_handlers.purge_steps,
    )
    subscribers = Subscribers()
    # The in-process bus hands each batch of events to the groups in this order.
    subscribers.include(invalidation.include_rules(
        user_cache_tags, message_cache_tags, connection_cache_tags))
    subscribers.include(users_handlers.subscribers)
    subscribers.include(audit_handlers.subscribers)
    subscribers.include(notifications_handlers.subscribers)
    # EVENTS_HANDLER_MODULES: an operator's extra modules, each exporting `subscribers`.
    for name in settings.events.handler_modules:
        subscribers.include(importlib.import_module(name).subscribers)
    return subscribers
