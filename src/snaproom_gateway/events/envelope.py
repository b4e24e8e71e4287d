"""The event envelope: timestamp, data{event, user_id, data}, service and version, plus an id
(UUID v7, time-ordered) and the correlation id of the request that caused it.

Consumers ignore fields they do not know (extra="allow"), so producers may add fields freely.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from uuid6 import uuid7

from snaproom_gateway import SERVICE_NAME, __version__


class EventBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    event: str
    user_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(default_factory=lambda: str(uuid7()))
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: EventBody
    service: str = SERVICE_NAME
    version: str = __version__
    correlation_id: str | None = None

    @property
    def event(self) -> str:
        return self.data.event

    @property
    def user_id(self) -> int | None:
        return self.data.user_id

    @property
    def payload(self) -> dict[str, Any]:
        return self.data.data

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Envelope:
        """Parse a message value. Raises ValueError (pydantic or JSON) on a malformed one."""
        return cls.model_validate(orjson.loads(raw))
