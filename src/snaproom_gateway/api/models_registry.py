"""Imports every model module so `Base.metadata` knows all tables (for Alembic autogenerate)."""

from snaproom_gateway.analytics import models as _analytics  # noqa: F401
from snaproom_gateway.audit import models as _audit  # noqa: F401
from snaproom_gateway.auth import models as _auth  # noqa: F401
from snaproom_gateway.connections import models as _connections  # noqa: F401
from snaproom_gateway.events import models as _events  # noqa: F401
from snaproom_gateway.infra.orm import Base
from snaproom_gateway.messages import models as _messages  # noqa: F401
from snaproom_gateway.notifications import models as _notifications  # noqa: F401
from snaproom_gateway.users import models as _users  # noqa: F401

metadata = Base.metadata
