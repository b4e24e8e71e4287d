"""W3C traceparent: what is honoured, what starts a new trace; and an event published while a
request is served stores the request's trace and id with its outbox row."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.observability import tracecontext
from tests.support.apps import running_app

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_valid_traceparent_is_continued_in_a_span_of_our_own():
    mine = tracecontext.continue_from(f"00-{TRACE}-00f067aa0ba902b7-01".encode())
    assert mine.trace_id == TRACE and mine.flags == "01"
    assert len(mine.span_id) == 16 and mine.span_id != "00f067aa0ba902b7"
    assert mine.header() == f"00-{TRACE}-{mine.span_id}-01"


@pytest.mark.parametrize("value", [
    None, "", "garbage", f"00-{TRACE}-00f067aa0ba902b7",  # too short
    f"ff-{TRACE}-00f067aa0ba902b7-01",  # version ff is invalid
    f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
    f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
    f"00-{TRACE.upper()}-00f067aa0ba902b7-01",  # upper case is not allowed
    f"00-{TRACE}-00f067aa0ba902b7-01-extra",  # version 00 has nothing after the flags
])
def test_a_missing_or_malformed_traceparent_starts_a_new_trace(value):
    assert tracecontext.parse(value) is None
    started = tracecontext.continue_from(value)
    assert len(started.trace_id) == 32 and started.trace_id != TRACE


def test_a_later_version_may_carry_more_fields():
    assert tracecontext.parse(f"01-{TRACE}-00f067aa0ba902b7-01-what-comes").trace_id == TRACE


async def test_the_outbox_row_keeps_the_requests_trace_and_request_id(tmp_path):
    settings = Settings(_env_file=None, app_env="testing",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    async with running_app(settings) as (app, client):
        answer = await client.post(
            "/api/auth/signup",
            json={"email": "trace@example.com", "username": "tracer",
                  "password": "correct-horse-battery"},
            headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "X-Request-ID": "r-42"})
        assert answer.status_code == 201, answer.text
        async with app.state.runtime.sessionmaker() as session:
            rows = (await session.execute(select(OutboxEvent))).scalars().all()
    created = [row for row in rows if row.topic == "user-events"]
    assert created and all(row.correlation_id == "r-42" for row in rows)
    assert all(tracecontext.parse(row.traceparent).trace_id == TRACE for row in rows)
