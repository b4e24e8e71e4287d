"""Which errors count against a breaker: outages yes, answers from a working server no."""

import asyncpg
import pytest
import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_errors

from snaproom_gateway.resilience.classify import (
    PoolBusy,
    describe,
    is_infrastructure_error,
    is_pool_exhausted,
)


class DriverError(Exception):
    """Stands in for the asyncpg adaptor's exception, which carries the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def sa_error(kind, sqlstate: str, invalidated: bool = False):
    return kind("SELECT 1", {}, DriverError(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    OSError(113, "No route to host"),
    sa_error(sa_errors.OperationalError, "57P01"),  # admin_shutdown
    sa_error(sa_errors.OperationalError, "08006"),  # connection_failure
    sa_error(sa_errors.DBAPIError, "XX000", invalidated=True),
    sa_error(sa_errors.InterfaceError, "53300"),  # too_many_connections
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
    redis_errors.ConnectionError("The previous master is now a slave"),
    redis_errors.ReadOnlyError("You can't write against a read only replica."),
    redis_errors.TimeoutError("Timeout reading from socket"),
    redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
    kafka_errors.KafkaConnectionError("no broker"),
    kafka_errors.KafkaTimeoutError(),
    kafka_errors.NotLeaderForPartitionError(),  # retriable: a leader election is under way
    kafka_errors.RequestTimedOutError(),
])
def test_outages_are_infrastructure_errors(exc):
    assert is_infrastructure_error(exc)


@pytest.mark.parametrize("exc", [
    ValueError("bad input"),
    KeyError("user"),
    sa_error(sa_errors.IntegrityError, "23505"),  # unique_violation
    sa_error(sa_errors.ProgrammingError, "42P01"),  # undefined_table
    sa_error(sa_errors.DataError, "22P02"),
    sa_error(sa_errors.OperationalError, "40001"),  # serialization failure: retry the txn
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    redis_errors.ResponseError("WRONGTYPE Operation against a key"),
    redis_errors.DataError("Invalid input of type: 'dict'"),
    redis_errors.AuthenticationError("invalid username-password pair"),
    kafka_errors.MessageSizeTooLargeError(),
])
def test_answers_from_a_working_server_are_not(exc):
    assert not is_infrastructure_error(exc)


def test_an_error_raised_from_an_outage_counts_through_its_cause():
    try:
        try:
            raise ConnectionResetError(104, "reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("cache read failed") from inner
    except RuntimeError as outer:
        assert is_infrastructure_error(outer)


def test_describe_is_one_short_line():
    assert describe(TimeoutError()) == "timed out"
    text = describe(ConnectionRefusedError(111, "refused\nsecond line" + "x" * 500))
    assert "\n" not in text and len(text) <= 200
    assert text.startswith("ConnectionRefusedError")


def _wrapped(exc: BaseException) -> BaseException:
    outer = RuntimeError("wrapped")
    outer.__cause__ = exc
    return outer


@pytest.mark.parametrize("exc", [
    sa_errors.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
    redis_errors.MaxConnectionsError("Too many connections"),
    PoolBusy("database"),
    _wrapped(redis_errors.MaxConnectionsError("Too many connections")),
])
def test_pool_exhaustion_is_load_not_an_outage(exc):
    assert is_pool_exhausted(exc)
    assert not is_infrastructure_error(exc)


def test_a_refused_connection_is_not_pool_exhaustion():
    assert not is_pool_exhausted(redis_errors.ConnectionError("Error 111 connecting"))
