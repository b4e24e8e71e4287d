"""Tables of the event backbone: the transactional outbox and the consumers' handled-event log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from snaproom_gateway.core.types import BigIntPK, UTCDateTime
from snaproom_gateway.infra.orm import Base, utcnow


class OutboxEvent(Base):
    """An event written in the same transaction as the change it describes; the relay sends it."""

    __tablename__ = "outbox"

    # The sequence gives the publishing order; rows of one key are sent in this order.
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(249))
    key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when Kafka can never take the row (too large): the claim skips it, prune keeps it.
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The W3C trace context and request id of the writer: sent as Kafka headers (migration 0007).
    traceparent: Mapped[str | None] = mapped_column(String(55))
    correlation_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "seq"),
        # Only the pending rows: the relay's claim never walks the sent ones (migration 0002).
        Index("ix_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL"),
              sqlite_where=text("sent_at IS NULL")),
    )


class ProcessedEvent(Base):
    """Which event ids a consumer group has handled, so a redelivery has no second effect."""

    __tablename__ = "processed_events"

    consumer_group: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
