"""WebSocket delivery across two gateway instances (real uvicorn servers) sharing one Redis."""

from __future__ import annotations

import httpx
import pytest

from tests.support.domain_events import deliver_events
from tests.support.domain_stack import unique
from tests.support.social_api import ask, connected_pair, gateway_server, next_frame, ws_connect
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration


@pytest.fixture
async def two_instances(settings):
    async with gateway_server(settings) as (app_a, address_a), \
            gateway_server(settings) as (app_b, address_b):
        async with httpx.AsyncClient(base_url=f"http://{address_a}", timeout=10) as client_a, \
                httpx.AsyncClient(base_url=f"http://{address_b}", timeout=10) as client_b:
            yield (app_a, address_a, client_a), (app_b, address_b, client_b)


async def test_a_message_sent_through_a_reaches_a_socket_on_b(two_instances):
    (_, address_a, client_a), (app_b, address_b, _) = two_instances
    alice, token_a, bob, token_b = await connected_pair(client_a, unique("al"), unique("bo"))
    async with ws_connect(address_b, token_b) as bob_on_b:
        assert app_b.state.runtime.realtime_hub.users() == [bob["id"]]
        sent = await client_a.post("/api/messages", json={"to_user_id": bob["id"],
                                                          "text": "from A over HTTP"},
                                   headers=bearer(token_a))
        assert sent.status_code == 201
        pushed = await next_frame(bob_on_b, "message")
    assert pushed["message"] == sent.json() | {"created_at": pushed["message"]["created_at"]}
    assert pushed["message"]["from_user_id"] == alice["id"]


async def test_a_private_message_on_a_socket_of_a_reaches_a_socket_on_b(two_instances):
    (_, address_a, client_a), (_, address_b, _) = two_instances
    alice, token_a, bob, token_b = await connected_pair(client_a, unique("al"), unique("bo"))
    async with ws_connect(address_b, token_b) as bob_on_b, \
            ws_connect(address_a, token_a) as alice_on_a:
        ack = await ask(alice_on_a, {"type": "private-message", "to_user_id": bob["id"],
                                     "text": "socket to socket", "ref": "1"}, "message:sent")
        pushed = await next_frame(bob_on_b, "message")
        # Bob answers on B; Alice's socket on A gets it.
        await ask(bob_on_b, {"type": "private-message", "to_user_id": alice["id"],
                             "text": "and back"}, "message:sent")
        back = await next_frame(alice_on_a, "message")
        while back["message"]["from_user_id"] != bob["id"]:  # her own echo comes first
            back = await next_frame(alice_on_a, "message")
    assert pushed["message"] == ack["message"]
    assert back["message"]["text"] == "and back"


async def test_presence_and_notifications_cross_instances(two_instances):
    (app_a, address_a, client_a), (_, address_b, client_b) = two_instances
    alice, token_a, bob, token_b = await connected_pair(client_a, unique("al"), unique("bo"))
    carol, token_c = await signup(client_a, unique("ca"))
    await deliver_events(app_a)  # Alice's own request to Bob notified him before this test
    async with ws_connect(address_b, token_b) as bob_on_b:
        async with ws_connect(address_a, token_a):
            came = await next_frame(bob_on_b, "presence")
            seen_on_b = (await client_b.get(f"/api/presence?user_ids={alice['id']}",
                                            headers=bearer(token_b))).json()
        went = await next_frame(bob_on_b, "presence")
        await client_a.post("/api/connections", json={"to_user_id": bob["id"]},
                            headers=bearer(token_c))
        await deliver_events(app_a)  # the notifications consumer runs on instance A
        note = await next_frame(bob_on_b, "notification")
    assert (came["user_id"], came["online"], went["online"]) == (alice["id"], True, False)
    assert seen_on_b[str(alice["id"])]["online"] is True
    assert note["notification"]["payload"]["from_user_id"] == carol["id"]


async def test_closing_one_of_two_sockets_on_different_instances_keeps_the_user_online(
        two_instances):
    (_, address_a, client_a), (_, address_b, client_b) = two_instances
    alice, token_a, bob, token_b = await connected_pair(client_a, unique("al"), unique("bo"))
    async with ws_connect(address_b, token_b) as bob_on_b:
        async with ws_connect(address_a, token_a):
            async with ws_connect(address_b, token_a):
                # Online twice: her first socket on A, then her first socket on B.
                opened = [await next_frame(bob_on_b, "presence") for _ in range(2)]
            # Her socket on B closed: B says offline, then A (still holding one) says online.
            went = await next_frame(bob_on_b, "presence")
            back = await next_frame(bob_on_b, "presence")
            seen = (await client_b.get(f"/api/presence?user_ids={alice['id']}",
                                       headers=bearer(token_b))).json()
    assert [f["online"] for f in opened] == [True, True]
    assert (went["online"], back["online"]) == (False, True)
    assert seen[str(alice["id"])]["online"] is True
