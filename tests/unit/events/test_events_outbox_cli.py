"""`snaproom-gateway outbox status | dead | requeue`, run as the operator runs them (a process of
their own) against the SQLite file of an embedded gateway; the relay then sends what was requeued."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import orjson
from sqlalchemy import select

from snaproom_gateway.events.catalog import MAX_EVENT_BYTES
from snaproom_gateway.events.models import OutboxEvent
from tests.support.apps import running_app
from tests.support.events_support import wait_for


def _cli(settings, cwd, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "DATABASE_URL": settings.database.url}
    return subprocess.run([sys.executable, "-m", "snaproom_gateway", "outbox", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=120)


async def _rows(app) -> dict[str, OutboxEvent]:
    async with app.state.runtime.sessionmaker() as session:
        return {row.event_id: row for row in (await session.scalars(select(OutboxEvent))).all()}


async def test_dead_rows_are_listed_and_requeued_and_the_relay_then_sends_them(
        embedded_settings, tmp_path):
    died = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with running_app(embedded_settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session, session.begin():
            session.add_all([
                OutboxEvent(event_id="refused", topic="user-events", key="7", attempts=3,
                            payload=b'{"n": 1}' * 100, dead_at=died,
                            last_error="refused by Kafka when sent alone: MessageSizeTooLarge"),
                OutboxEvent(event_id="huge", topic="user-events", key="8", attempts=0,
                            payload=b"x" * (MAX_EVENT_BYTES + 1), dead_at=died,
                            last_error="over the limit"),
            ])
        seqs = {event_id: row.seq for event_id, row in (await _rows(app)).items()}

    run = lambda *args: _cli(embedded_settings, tmp_path, *args)  # noqa: E731
    loop = asyncio.get_running_loop()
    status = await loop.run_in_executor(None, run, "status", "--json")
    listed = await loop.run_in_executor(None, run, "dead")
    listed_json = await loop.run_in_executor(None, run, "dead", "--json")
    unknown = await loop.run_in_executor(None, run, "requeue", "999999")
    neither = await loop.run_in_executor(None, run, "requeue")
    requeued = await loop.run_in_executor(None, run, "requeue", "--all")
    after = await loop.run_in_executor(None, run, "status")

    assert status.returncode == 0, status.stderr
    assert orjson.loads(status.stdout) == {"pending": 0, "oldest_pending": None, "dead": 2}
    assert listed.returncode == 0 and "MessageSizeTooLarge" in listed.stdout
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == \
        [str(seqs["refused"]), str(seqs["huge"])]
    rows = orjson.loads(listed_json.stdout)
    assert [(r["event_id"], r["size"], r["key"]) for r in rows] == \
        [("refused", 800, "7"), ("huge", MAX_EVENT_BYTES + 1, "8")]
    assert rows[0]["dead_at"].startswith("2026-01-02T03:04:05")
    assert unknown.returncode == 1 and "not dead rows (pending, sent or unknown): 999999" \
        in unknown.stderr
    assert neither.returncode == 2 and "--all" in neither.stderr
    assert requeued.returncode == 0, requeued.stderr
    assert requeued.stdout.strip() == f"requeued 1 rows: {seqs['refused']}"
    assert f"left dead, over the size limit: {seqs['huge']}" in requeued.stderr
    assert after.stdout.strip().startswith("pending 1 (oldest written ") \
        and after.stdout.strip().endswith(", dead 1")

    async with running_app(embedded_settings) as (app, _):  # the relay takes the requeued row
        async def sent() -> bool:
            return (await _rows(app))["refused"].sent_at is not None
        await wait_for(sent, 10)
        rows = await _rows(app)
    assert rows["refused"].dead_at is None and rows["refused"].attempts == 0 \
        and rows["refused"].last_error is None
    assert rows["huge"].dead_at is not None and rows["huge"].sent_at is None
