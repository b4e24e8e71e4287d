"""The handler modules the app imports at start, so their `@handles` registrations exist.

Add one line per module that registers handlers. EVENTS_HANDLER_MODULES adds more at run time.
"""

from __future__ import annotations

import importlib

from snaproom_gateway.core.settings import Settings

HANDLER_MODULES: list[str] = [
    "snaproom_gateway.users.handlers",
    "snaproom_gateway.auth.sessions",  # the saga's session revocation and purge step
    "snaproom_gateway.audit.handlers",
    "snaproom_gateway.analytics.service",  # deletion purge step (views are counted in process)
    "snaproom_gateway.cache.invalidation",
    "snaproom_gateway.connections.handlers",  # deletion purge step
    "snaproom_gateway.messages.handlers",  # deletion purge step
    "snaproom_gateway.notifications.handlers",
]


def import_handler_modules(settings: Settings | None = None) -> list[str]:
    names = list(HANDLER_MODULES)
    if settings is not None:
        names += [n for n in settings.events.handler_modules if n not in names]
    for name in names:
        importlib.import_module(name)
    return names
