from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(description="connection.requested, connection.accepted, message.received")
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None
    read: bool


class NotificationPage(BaseModel):
    items: list[NotificationOut] = Field(description="Newest first")
    next_before: int | None = None
