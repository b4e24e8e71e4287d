"""The audit trail: append-only (PostgreSQL refuses UPDATE and DELETE on it, see 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from snaproom_gateway.core.types import BigIntPK, UTCDateTime
from snaproom_gateway.infra.orm import Base, utcnow

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # The event id makes a redelivered audit event a no-op even outside the consumer's log.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    action: Mapped[str] = mapped_column(String(64))
    # Who: the acting user; no foreign key, the trail outlives the rows it talks about.
    user_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    context: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_audit_log_user_id_id", "user_id", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
    )
