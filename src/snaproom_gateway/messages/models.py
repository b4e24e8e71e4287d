from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from snaproom_gateway.connections.models import UserId
from snaproom_gateway.core.types import BigIntPK, UTCDateTime
from snaproom_gateway.infra.orm import Base, utcnow


class Message(Base):
    """A private message. (user_low, user_high) names the conversation whichever side sent it."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation", "user_low", "user_high", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    sender_id: Mapped[int] = mapped_column(UserId, ForeignKey("users.id", ondelete="CASCADE"))
    receiver_id: Mapped[int] = mapped_column(UserId, ForeignKey("users.id", ondelete="CASCADE"))
    user_low: Mapped[int] = mapped_column(UserId)
    user_high: Mapped[int] = mapped_column(UserId)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
