"""Kafka away: messages and connection requests still succeed; their events (and the
notifications made from them) arrive after Kafka is back."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.domain_stack import migrate, stack_settings, unique
from tests.support.events_support import wait_for
from tests.support.social_api import connected_pair, gateway_server
from tests.support.users_api import bearer, signup

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def test_messages_and_requests_succeed_while_kafka_is_down_and_notify_after(stack_env):
    from tests.support.servers import Stack

    settings = stack_settings(stack_env, outbox_backoff_max=2.0, events_retry_backoff=0.05)
    await migrate(settings)
    stack = Stack(verbose=False)
    async with gateway_server(settings) as (app, address), \
            httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as client:
        async def topics_ready():
            return app.state.runtime.events.relay.sink.topics_ready
        await wait_for(topics_ready, 60)
        alice, token_a, bob, token_b = await connected_pair(client, unique("al"), unique("bo"))
        carol, token_c = await signup(client, unique("ca"))
        await asyncio.to_thread(stack.down, "kafka")
        try:
            sent = [await client.post("/api/messages", json={"to_user_id": bob["id"],
                                                             "text": f"during {i}"},
                                      headers=bearer(token_a)) for i in range(5)]
            asked = await client.post("/api/connections", json={"to_user_id": bob["id"]},
                                      headers=bearer(token_c))
            read = await client.get(f"/api/messages/{alice['id']}", headers=bearer(token_b))
        finally:
            await asyncio.to_thread(stack.up, "kafka")
        assert [r.status_code for r in sent] == [201] * 5
        assert asked.status_code == 201
        assert [m["text"] for m in read.json()["items"]][-5:] == [f"during {i}" for i in range(5)]
        sent_ids = {r.json()["id"] for r in sent}

        async def all_notified():
            items = (await client.get("/api/notifications?limit=100",
                                      headers=bearer(token_b))).json()["items"]
            about_messages = {n["payload"].get("message_id") for n in items
                              if n["kind"] == "message.received"}
            requested = [n for n in items if n["kind"] == "connection.requested"
                         and n["payload"]["from_user_id"] == carol["id"]]
            return sent_ids <= about_messages and len(requested) == 1
        await wait_for(all_notified, 240, interval=0.5)
        items = (await client.get("/api/notifications?limit=100",
                                  headers=bearer(token_b))).json()["items"]
    # Each event made exactly one notification, even with redeliveries after the outage.
    message_notes = [n["payload"]["message_id"] for n in items if n["kind"] == "message.received"]
    assert sorted(message_notes) == sorted(sent_ids)
