"""Column and field types that behave the same on PostgreSQL and SQLite."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import BigInteger, DateTime, Integer

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
UTCDateTime = DateTime(timezone=True)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# A time in an API answer. SQLite hands UTCDateTime columns back naive; RFC 3339 (the schema's
# date-time) needs the offset, so a naive value is taken as the UTC it is.
UTCTime = Annotated[datetime, AfterValidator(_utc)]
