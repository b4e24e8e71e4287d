"""The breaker's state machine on a fake clock: no sleeping, every transition forced by time."""

import asyncio

import pytest
import redis.exceptions as redis_errors
from sqlalchemy.exc import IntegrityError

from snaproom_gateway.resilience.breaker import (
    BreakerConfig,
    BreakerOpen,
    CircuitBreaker,
    State,
    StateChange,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(**overrides) -> tuple[CircuitBreaker, FakeClock, list[StateChange]]:
    clock, changes = FakeClock(), []
    config = BreakerConfig(**({"failure_threshold": 3, "reset_timeout": 5.0, "min_calls": 10,
                               "failure_rate": 0.5, "window": 10.0, "half_open_probes": 2}
                              | overrides))
    return CircuitBreaker("redis", config, clock, changes.append), clock, changes


def fail(breaker: CircuitBreaker, exc: BaseException | None = None) -> None:
    probe = breaker.acquire()
    breaker.record(exc or ConnectionRefusedError("refused"), probe)


def succeed(breaker: CircuitBreaker) -> None:
    breaker.record(None, breaker.acquire())


def test_opens_after_the_threshold_of_consecutive_failures():
    breaker, _, changes = make()
    fail(breaker)
    fail(breaker)
    assert breaker.state == State.CLOSED
    fail(breaker)
    assert breaker.state == State.OPEN
    assert [(c.old, c.new) for c in changes] == [(State.CLOSED, State.OPEN)]
    assert changes[0].failures == 3
    assert "ConnectionRefusedError" in changes[0].reason


def test_a_success_resets_the_consecutive_count():
    breaker, _, _ = make()
    fail(breaker)
    fail(breaker)
    succeed(breaker)
    fail(breaker)
    fail(breaker)
    assert breaker.state == State.CLOSED
    assert breaker.consecutive_failures == 2


def test_opens_on_the_failure_rate_within_the_window():
    breaker, clock, _ = make(failure_threshold=100)
    for _ in range(5):  # alternate: never 2 in a row, but half of the calls fail
        succeed(breaker)
        clock.advance(0.1)
        fail(breaker)
        clock.advance(0.1)
    assert breaker.state == State.OPEN


def test_the_failure_rate_needs_the_minimum_number_of_calls():
    breaker, _, _ = make(failure_threshold=100)
    for _ in range(4):
        succeed(breaker)
        fail(breaker)
    assert breaker.state == State.CLOSED  # 4 of 8 failed, but fewer than min_calls=10


def test_outcomes_older_than_the_window_do_not_count():
    breaker, clock, _ = make(failure_threshold=100)
    for _ in range(8):  # fewer than min_calls: no verdict yet
        fail(breaker)
    clock.advance(11)  # those eight failures leave the window
    for _ in range(8):
        succeed(breaker)
    fail(breaker)
    fail(breaker)  # 2 of 10 in the window; counting the old ones it would be 10 of 18
    assert breaker.state == State.CLOSED
    assert breaker.snapshot()["window"] == {"seconds": 10.0, "calls": 10, "failures": 2}


def test_open_rejects_without_calling_and_says_when_to_retry():
    breaker, clock, _ = make()
    for _ in range(3):
        fail(breaker)
    clock.advance(2)
    with pytest.raises(BreakerOpen) as raised:
        breaker.acquire()
    assert raised.value.dependency == "redis"
    assert raised.value.retry_after == pytest.approx(3.0)
    assert breaker.totals.rejected == 1


def test_half_open_after_the_reset_timeout_and_closed_by_a_probe_success():
    breaker, clock, changes = make()
    for _ in range(3):
        fail(breaker)
    clock.advance(5.01)
    probe = breaker.acquire()
    assert probe is True
    assert breaker.state == State.HALF_OPEN
    breaker.record(None, probe)
    assert breaker.state == State.CLOSED
    assert [c.new for c in changes] == [State.OPEN, State.HALF_OPEN, State.CLOSED]
    assert breaker.consecutive_failures == 0


def test_half_open_admits_only_a_few_concurrent_probes():
    breaker, clock, _ = make()
    for _ in range(3):
        fail(breaker)
    clock.advance(6)
    first, second = breaker.acquire(), breaker.acquire()
    assert first and second
    with pytest.raises(BreakerOpen):
        breaker.acquire()
    breaker.release(first)  # a probe that ended without a verdict frees its slot
    assert breaker.acquire() is True


def test_a_failed_probe_opens_it_again_for_a_full_reset_timeout():
    breaker, clock, changes = make()
    for _ in range(3):
        fail(breaker)
    clock.advance(6)
    fail(breaker)
    assert breaker.state == State.OPEN
    assert changes[-1].old == State.HALF_OPEN
    assert breaker.retry_after() == pytest.approx(5.0)


def test_a_late_failure_of_a_call_admitted_before_opening_does_not_reopen_half_open():
    breaker, clock, _ = make()
    early = breaker.acquire()  # admitted while closed
    for _ in range(3):
        fail(breaker)
    clock.advance(6)
    probe = breaker.acquire()
    breaker.record(TimeoutError(), early)  # the old call finally times out
    assert breaker.state == State.HALF_OPEN
    breaker.record(None, probe)
    assert breaker.state == State.CLOSED


@pytest.mark.parametrize("exc", [
    KeyError("missing"),
    ValueError("bad input"),
    IntegrityError("INSERT", {}, Exception("duplicate key")),
    redis_errors.ResponseError("WRONGTYPE Operation against a key"),
])
def test_errors_that_are_not_infrastructure_count_as_success(exc):
    breaker, _, _ = make(failure_threshold=1)
    fail(breaker, exc)
    assert breaker.state == State.CLOSED
    assert breaker.totals.failures == 0


@pytest.mark.parametrize("exc", [
    TimeoutError(),
    redis_errors.ConnectionError("The previous master is now a slave"),
    redis_errors.ReadOnlyError("You can't write against a read only replica."),
    OSError(113, "No route to host"),
])
def test_infrastructure_errors_count_as_failures(exc):
    breaker, _, _ = make(failure_threshold=1)
    fail(breaker, exc)
    assert breaker.state == State.OPEN


async def test_call_is_bounded_by_the_call_timeout_and_counts_the_timeout():
    breaker, _, _ = make(failure_threshold=1, call_timeout=0.01)

    async def hang() -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await breaker.call(hang)
    assert breaker.state == State.OPEN
    assert breaker.totals.timeouts == 1


async def test_call_or_falls_back_on_failure_and_while_open_without_calling():
    breaker, _, _ = make(failure_threshold=1)
    calls = []

    async def broken() -> str:
        calls.append("primary")
        raise ConnectionRefusedError()

    async def from_database() -> str:
        return "db"

    assert await breaker.call_or(broken, from_database) == "db"
    assert await breaker.call_or(broken, from_database) == "db"
    assert calls == ["primary"]  # the second call never reached the dead server


async def test_call_or_does_not_hide_errors_that_are_not_infrastructure():
    breaker, _, _ = make()

    async def bug() -> str:
        raise ValueError("bug")

    async def fallback() -> str:
        return "db"

    with pytest.raises(ValueError):
        await breaker.call_or(bug, fallback)


async def test_a_cancelled_call_gives_no_verdict_and_frees_its_probe_slot():
    breaker, clock, _ = make(half_open_probes=1)
    for _ in range(3):
        fail(breaker)
    clock.advance(6)
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(breaker.call(slow, timeout=60))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state == State.HALF_OPEN
    assert breaker.acquire() is True  # the slot is free again


def test_forcing_a_state_notifies_listeners():
    breaker, _, changes = make()
    breaker.force(State.OPEN, "maintenance")
    breaker.force(State.OPEN)  # no change, no notice
    assert [(c.new, c.reason) for c in changes] == [(State.OPEN, "maintenance")]
