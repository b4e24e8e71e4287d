"""Imports every domain handler module, so their `@handles` registrations exist at start-up."""

from snaproom_gateway.analytics import handlers as _analytics  # noqa: F401
from snaproom_gateway.audit import handlers as _audit  # noqa: F401
from snaproom_gateway.connections import handlers as _connections  # noqa: F401
from snaproom_gateway.messages import handlers as _messages  # noqa: F401
from snaproom_gateway.notifications import handlers as _notifications  # noqa: F401
from snaproom_gateway.users import handlers as _users  # noqa: F401
