"""Frames a client may send on /ws, as JSON objects."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.messages.schemas import MessageText


class PresenceQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["presence:query"]
    user_ids: list[Annotated[int, Field(gt=0, le=MAX_ID)]] = Field(min_length=1, max_length=100)


class PrivateMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["private-message"]
    to_user_id: int = Field(gt=0, le=MAX_ID)
    text: MessageText
    ref: str | None = Field(None, max_length=64, description="Echoed in the answer")


class Ping(BaseModel):
    type: Literal["ping"]


ClientFrame = Annotated[PresenceQuery | PrivateMessage | Ping, Field(discriminator="type")]
client_frame = TypeAdapter(ClientFrame)
