"""Zero-infra mode: the outbox relay hands events to the in-process bus, which runs the same
handlers with the same idempotency, retries and dead-lettering as the Kafka consumers."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, update

from snaproom_gateway.events.models import OutboxEvent, ProcessedEvent
from snaproom_gateway.events.publisher import (
    EventSchemaError,
    publish,
    publish_audit_event,
    publish_notification_event,
    publish_user_event,
)
from tests.support.apps import extra_subscribers, running_app
from tests.support.users_api import admin_headers


@pytest.fixture
def seen():
    """A handler group 'unit-test' recording each envelope; unregistered afterwards."""
    received: list = []

    @extra_subscribers.subscriber("user.*", group="unit-test")
    async def record(envelope, ctx):
        received.append(envelope)

    yield received
    extra_subscribers.remove(record)


async def _eventually(predicate, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling handler side effects
            await asyncio.sleep(0.02)


async def test_a_published_event_reaches_its_handler_once(embedded_settings, seen):
    async with running_app(embedded_settings) as (app, client):
        async with app.state.runtime.sessionmaker() as session:
            envelope = await publish_user_event(session, "user.created", 7,
                                                {"email": "a@example.com", "username": "a"})
            await session.commit()
        await _eventually(lambda: len(seen) == 1)
        assert seen[0].id == envelope.id and seen[0].user_id == 7
        # The relay marks the row sent right after the handlers ran, in its own transaction.
        await _eventually(lambda: app.state.runtime.events.relay.sent_total == 1)
        async with app.state.runtime.sessionmaker() as session:
            row = await session.scalar(select(OutboxEvent))
            assert row.sent_at is not None and row.key == "7"
            recorded = await session.scalar(select(func.count()).select_from(ProcessedEvent))
            assert recorded == 1


async def test_a_redelivered_event_has_no_second_effect(embedded_settings, seen):
    async with running_app(embedded_settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session:
            await publish(session, "user.logout", user_id=3, data={})
            await session.commit()
        await _eventually(lambda: len(seen) == 1)
        # Make the relay send the same row again, as after a crash before marking it sent.
        async with app.state.runtime.sessionmaker() as session:
            await session.execute(update(OutboxEvent).values(sent_at=None))
            await publish(session, "user.login", user_id=3, data={"ip": "1.2.3.4"})
            await session.commit()
        await _eventually(lambda: len(seen) == 2)
        await asyncio.sleep(0.3)
        assert [e.event for e in seen] == ["user.logout", "user.login"]


async def test_an_event_that_does_not_match_its_schema_is_refused_at_once(embedded_settings):
    async with running_app(embedded_settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session:
            with pytest.raises(EventSchemaError):
                await publish(session, "user.created", user_id=1, data={"email": "x"})
            with pytest.raises(EventSchemaError):
                await publish(session, "no.such.event", user_id=1, data={})
            with pytest.raises(ValueError):
                await publish_user_event(session, "message.sent", 1, {})
            assert not session.new


async def test_notification_and_audit_helpers_fill_the_catalog_shapes(embedded_settings):
    async with running_app(embedded_settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session:
            note = await publish_notification_event(session, "email", 5,
                                                    {"kind": "welcome", "subject": "Hi"})
            audit = await publish_audit_event(session, "user.login", 5, {"ip": "::1"})
            await session.commit()
        assert note.payload == {"channel": "email", "kind": "welcome",
                                "payload": {"subject": "Hi"}}
        assert audit.event == "audit.user.login"
        assert audit.payload == {"action": "user.login", "context": {"ip": "::1"}}


async def test_a_malformed_row_is_dead_lettered_and_later_events_still_flow(embedded_settings,
                                                                            seen):
    async with running_app(embedded_settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session:
            session.add(OutboxEvent(event_id="bad-1", topic="user-events", key="9",
                                    payload=b"{not json", attempts=0))
            await publish(session, "user.logout", user_id=9, data={})
            await session.commit()
        await _eventually(lambda: len(seen) == 1)
        # Every group on user-events dead-letters it once; the domain's groups are there too.
        dead = [d for d in app.state.runtime.events.bus.dead_letters if d.get("group") == "unit-test"]
        assert [d["topic"] for d in dead] == ["user-events.dlq"]
        assert "JSON" in dead[0]["error"] or "json" in dead[0]["error"]


async def test_a_failing_handler_is_retried_then_dead_lettered(embedded_settings):
    calls: list[str] = []

    @extra_subscribers.subscriber("user.deleted", group="unit-flaky")
    async def always_fails(envelope, ctx):
        calls.append(envelope.id)
        raise RuntimeError("boom")

    try:
        embedded_settings.events.retry_backoff = 0.01
        async with running_app(embedded_settings) as (app, _):
            async with app.state.runtime.sessionmaker() as session:
                await publish(session, "user.deleted", user_id=1, data={})
                await session.commit()
            bus = app.state.runtime.events.bus
            await _eventually(lambda: len(bus.dead_letters) == 1)
            assert "boom" in bus.dead_letters[0]["error"]
            # One try in the batch, then 1 + EVENTS_HANDLER_RETRIES alone.
            assert len(calls) == 1 + embedded_settings.events.handler_retries + 1
    finally:
        extra_subscribers.remove(always_fails)


async def test_handler_effects_and_the_processed_record_commit_together(embedded_settings):
    """ctx.session() is the transaction the event id is recorded in: a failure undoes both."""
    attempts: list[int] = []

    @extra_subscribers.subscriber("user.updated", group="unit-tx")
    async def write_then_fail_once(envelope, ctx):
        attempts.append(1)
        session = ctx.session()
        await session.execute(update(OutboxEvent).where(OutboxEvent.event_id == envelope.id)
                              .values(last_error=f"handled {len(attempts)}"))
        if len(attempts) == 1:
            raise RuntimeError("first try fails")

    try:
        embedded_settings.events.retry_backoff = 0.01
        async with running_app(embedded_settings) as (app, _):
            async with app.state.runtime.sessionmaker() as session:
                envelope = await publish(session, "user.updated", user_id=1,
                                         data={"fields": ["bio"]})
                await session.commit()
            await _eventually(lambda: len(attempts) >= 2)
            await asyncio.sleep(0.3)
            async with app.state.runtime.sessionmaker() as session:
                row = await session.scalar(select(OutboxEvent)
                                           .where(OutboxEvent.event_id == envelope.id))
                assert row.last_error == "handled 2"
                assert await session.scalar(select(func.count()).select_from(ProcessedEvent)
                                            .where(ProcessedEvent.consumer_group == "unit-tx")
                                            ) == 1
    finally:
        extra_subscribers.remove(write_then_fail_once)


async def test_health_full_reports_outbox_and_consumers(embedded_settings, seen):
    async with running_app(embedded_settings) as (app, client):
        await asyncio.sleep(1.2)
        body = (await client.get("/api/health/full")).json()
        outbox = body["components"]["outbox"]
        assert outbox["sink"] == "in-process" and outbox["pending"] == 0
        assert body["components"]["consumers"]["groups"]["unit-test"]["state"] == "running"


async def test_admin_kafka_routes_need_an_admin(embedded_settings):
    async with running_app(embedded_settings) as (app, client):
        assert (await client.get("/api/admin/kafka/cluster")).status_code == 401
        answer = await client.get("/api/admin/kafka/cluster",
                                  headers=await admin_headers(app, client))
        assert answer.status_code == 200 and answer.json()["mode"] == "in-process"
