from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, RootModel


class PresenceOut(BaseModel):
    online: bool
    last_seen: datetime | None = None


class HeartbeatOut(PresenceOut):
    ttl: int


class PresenceMap(RootModel[dict[str, PresenceOut]]):
    """{user id: presence}"""
