"""Which exceptions mean "the dependency is unwell" (they count against a breaker) and which mean
"the dependency answered, the request was wrong" (a 404, a validation error, a unique violation).

Counted: connection errors, timeouts, READONLY after a Sentinel failover, a PostgreSQL server that
is shutting down or out of connections, a Kafka error the client calls retriable. Nothing else.

Not counted either way: our own pool ran out of connections (`is_pool_exhausted`). That is load
on this process, not a sick server; the breaker leaves it out and counts it apart (`busy`).
"""

from __future__ import annotations

import asyncio

import aiokafka.errors as kafka_errors
import asyncpg
import redis.exceptions as redis_errors
import sqlalchemy.exc as sa_errors

# SQLSTATE classes of a server that cannot serve: 08 connection exception, 53 insufficient
# resources (too many connections, disk full), 57 operator intervention (admin shutdown, cannot
# connect now, query cancelled by statement_timeout), 58 system error.
_INFRA_SQLSTATE_CLASSES = ("08", "53", "57", "58")

_ASYNCPG_INFRA = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.PostgresSystemError,
)

_REDIS_INFRA = (
    redis_errors.ConnectionError,  # includes "previous master is now a slave" and MasterNotFound
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.BusyLoadingError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
)

_KAFKA_INFRA = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.RequestTimedOutError,
    kafka_errors.ProducerClosed,
)


class PoolBusy(Exception):
    """This process has too much in flight for `dependency`: wait and retry (back-pressure)."""

    def __init__(self, dependency: str, detail: str | None = None) -> None:
        self.dependency = dependency
        super().__init__(detail or f"{dependency} is busy: too many requests in flight")


def is_pool_exhausted(exc: BaseException) -> bool:
    """True when `exc` is this process's own pool (or admission gate) out of room.

    SQLAlchemy's pool checkout timeout and redis-py's MaxConnectionsError (a ConnectionError
    subclass, so it must be caught before the generic rules) say nothing about the server.
    """
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, (PoolBusy, sa_errors.TimeoutError, redis_errors.MaxConnectionsError)):
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


# SQLSTATEs of a schema the code does not match: undefined table, column, function, object.
_SCHEMA_SQLSTATES = ("42P01", "42703", "42883", "42704")


def is_schema_error(exc: BaseException) -> bool:
    """True when PostgreSQL says a table or column the code uses does not exist: the database
    is not migrated (or behind the code), which is a 503 naming `migrate`, never a 500."""
    if not isinstance(exc, sa_errors.ProgrammingError):
        return False
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        sqlstate = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if sqlstate in _SCHEMA_SQLSTATES:
            return True
    return False


def is_infrastructure_error(exc: BaseException) -> bool:
    """True when `exc` says the server is unreachable, overloaded or failing over."""
    if isinstance(exc, asyncio.CancelledError):
        return False
    if is_pool_exhausted(exc):
        return False
    # A wrong password fails every call the same way: a misconfiguration, not an outage.
    if isinstance(exc, redis_errors.AuthenticationError):
        return False
    # Builtins first: socket errors and timeouts (asyncio.TimeoutError is TimeoutError).
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, sa_errors.DBAPIError):
        return _sqlalchemy_is_infra(exc)
    if isinstance(exc, _ASYNCPG_INFRA) or isinstance(exc, _REDIS_INFRA):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        # Only the closed-connection kind; "another operation is in progress" is a bug.
        return "closed" in str(exc) or "closing" in str(exc)
    if isinstance(exc, kafka_errors.KafkaError):
        return isinstance(exc, _KAFKA_INFRA) or bool(getattr(exc, "retriable", False))
    if isinstance(exc, OSError):  # EHOSTUNREACH, ENETUNREACH, ... raised while connecting
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_infrastructure_error(cause)


def _sqlalchemy_is_infra(exc: sa_errors.DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_errors.IntegrityError, sa_errors.DataError,
                        sa_errors.ProgrammingError)):
        return False
    orig = exc.orig
    # The asyncpg adaptor wraps the driver's exception; the real one is its __cause__.
    driver = getattr(orig, "__cause__", None) or orig
    for candidate in (orig, driver):
        if candidate is not exc and candidate is not None and is_infrastructure_error(candidate):
            return True
        sqlstate = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _INFRA_SQLSTATE_CLASSES:
            return True
    return False


def describe(exc: BaseException) -> str:
    """A short, log-safe description for health output and events."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
