from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.core.types import UTCTime


class ConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: int = Field(gt=0, le=MAX_ID)


class ConnectionOut(BaseModel):
    id: int
    requester_id: int
    addressee_id: int
    status: Literal["pending", "accepted", "rejected"]
    created_at: UTCTime
    responded_at: UTCTime | None = None


class Peer(BaseModel):
    id: int
    username: str
    display_name: str | None = None
    avatar_url: str | None = None


class ConnectionWithPeer(ConnectionOut):
    """A connection as one side sees it: `user` is the other side."""

    user: Peer


class ConnectionList(BaseModel):
    items: list[ConnectionWithPeer]
