from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.core.types import UTCTime

MAX_TEXT = 4000


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000: refuse it here (422) rather than fail the insert.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


# Whitespace-only text is empty; the text itself is kept as sent.
MessageText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT,
                                               pattern=r"\S"), AfterValidator(_no_nul)]


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: int = Field(gt=0, le=MAX_ID)
    text: MessageText


class MessageOut(BaseModel):
    id: int
    from_user_id: int
    to_user_id: int
    text: str
    created_at: UTCTime


class MessagePage(BaseModel):
    items: list[MessageOut] = Field(description="Oldest first")
    next_before: int | None = Field(
        None, description="Pass as `before` for older messages; null at the start")
