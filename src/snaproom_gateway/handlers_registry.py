"""Imports every domain handler module, so their `@handles` registrations exist at start-up."""

from snaproom_gateway.analytics import handlers as _analytics  # noqa: F401
from snaproom_gateway.audit import handlers as _audit  # noqa: F401
from snaproom_gateway.users import handlers as _users  # noqa: F401
