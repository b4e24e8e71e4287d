"""Column and field types that behave the same on PostgreSQL and SQLite."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import BigInteger, DateTime, Integer

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
UTCDateTime = DateTime(timezone=True)


def as_utc(value: datetime | None) -> datetime | None:
    """A naive time (as SQLite hands UTCDateTime columns back) is the UTC it was stored as."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# A time in an API answer: RFC 3339 (the schema's date-time) needs the offset.
UTCTime = Annotated[datetime, AfterValidator(as_utc)]
