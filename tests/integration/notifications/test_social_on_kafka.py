"""The social events through real Kafka: the outbox relay publishes, the `notifications` consumer
group (connection-events, notification-events) stores notifications and pushes them to sockets."""

from __future__ import annotations

import httpx
import pytest

from snaproom_gateway.notifications.models import Notification  # noqa: F401 - table exists
from tests.support.domain_stack import migrate, stack_settings, unique
from tests.support.events_support import wait_for
from tests.support.social_api import connected_pair, gateway_server, next_frame, ws_connect
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kafka_stack_settings(stack_env):
    configured = stack_settings(stack_env, outbox_backoff_max=2.0, events_retry_backoff=0.05)
    import asyncio
    asyncio.run(migrate(configured))
    return configured


async def notifications_of(client: httpx.AsyncClient, token: str) -> list[dict]:
    return (await client.get("/api/notifications", headers=bearer(token))).json()["items"]


async def test_notifications_arrive_through_kafka_and_reach_a_socket_on_another_instance(
        kafka_stack_settings):
    async with gateway_server(kafka_stack_settings) as (app_a, address_a), \
            gateway_server(kafka_stack_settings) as (_, address_b), \
            httpx.AsyncClient(base_url=f"http://{address_a}", timeout=30) as client:
        async def topics_ready():
            return app_a.state.runtime.events.relay.sink.topics_ready
        await wait_for(topics_ready, 60)
        alice, token_a, bob, token_b = await connected_pair(client, unique("al"), unique("bo"))

        async def alice_notified():
            return [n["kind"] for n in await notifications_of(client, token_a)] == [
                "connection.accepted"]
        await wait_for(alice_notified, 60, interval=0.2)
        carol, token_c = await signup(client, unique("ca"))
        async with ws_connect(address_b, token_b) as bob_on_b:
            asked = await client.post("/api/connections", json={"to_user_id": bob["id"]},
                                      headers=bearer(token_c))
            assert asked.status_code == 201
            pushed = await next_frame(bob_on_b, "notification", timeout=60)
        assert pushed["notification"]["kind"] == "connection.requested"
        assert pushed["notification"]["payload"] == {"connection_id": asked.json()["id"],
                                                     "from_user_id": carol["id"]}
        # Bob is offline again: a message to him becomes a notification, through Kafka.
        sent = await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "hey"},
                                 headers=bearer(token_a))
        assert sent.status_code == 201

        async def bob_has_message_note():
            return any(n["kind"] == "message.received" and
                       n["payload"]["message_id"] == sent.json()["id"]
                       for n in await notifications_of(client, token_b))
        await wait_for(bob_has_message_note, 60, interval=0.2)
        kinds = [n["kind"] for n in await notifications_of(client, token_b)]
    assert sorted(kinds) == ["connection.requested", "connection.requested", "message.received"]
