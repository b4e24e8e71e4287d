"""Column types that behave the same on PostgreSQL and SQLite."""

from sqlalchemy import BigInteger, DateTime, Integer

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
UTCDateTime = DateTime(timezone=True)
