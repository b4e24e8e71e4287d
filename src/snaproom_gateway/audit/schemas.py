from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from snaproom_gateway.core.types import UTCTime


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    user_id: int | None
    context: dict[str, Any]
    correlation_id: str | None
    occurred_at: UTCTime
    recorded_at: UTCTime
