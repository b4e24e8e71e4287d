"""Profile views, one counter row per viewed user (kept by the analytics consumer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from snaproom_gateway.core.types import UTCDateTime
from snaproom_gateway.infra.orm import Base


class ProfileViewCount(Base):
    __tablename__ = "profile_views"

    user_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    )
    views: Mapped[int] = mapped_column(BigInteger, default=0)
    last_viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
