from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from snaproom_gateway.core.types import BigIntPK, UTCDateTime
from snaproom_gateway.infra.orm import Base, utcnow

UserId = BigInteger().with_variant(Integer(), "sqlite")


class Connection(Base):
    """A request from `requester` to `addressee`: pending -> accepted | rejected.

    One row per unordered pair (user_low, user_high are the two ids sorted): the unique
    constraint makes a duplicate request, in either direction, a conflict even under a race.
    """

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("user_low", "user_high", name="uq_connections_pair"),
        Index("ix_connections_requester_id_status", "requester_id", "status"),
        Index("ix_connections_addressee_id_status", "addressee_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    requester_id: Mapped[int] = mapped_column(UserId, ForeignKey("users.id", ondelete="CASCADE"))
    addressee_id: Mapped[int] = mapped_column(UserId, ForeignKey("users.id", ondelete="CASCADE"))
    user_low: Mapped[int] = mapped_column(UserId)
    user_high: Mapped[int] = mapped_column(UserId)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
