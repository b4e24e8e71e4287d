from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from snaproom_gateway.core.types import UTCTime


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(description="connection.requested, connection.accepted, message.received")
    payload: dict[str, Any]
    created_at: UTCTime
    read_at: UTCTime | None = None
    read: bool


class NotificationPage(BaseModel):
    items: list[NotificationOut] = Field(description="Newest first")
    next_before: int | None = None
