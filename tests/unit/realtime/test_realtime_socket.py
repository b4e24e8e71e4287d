"""/ws on a real uvicorn server with the embedded defaults (in-process fan-out)."""

import httpx
import orjson
import pytest
import websockets

from tests.support.domain_events import deliver_events
from tests.support.social_api import ask, connected_pair, gateway_server, next_frame, ws_connect
from tests.support.users_api import bearer, signup


@pytest.fixture
async def server(domain_settings):
    async with gateway_server(domain_settings) as (app, address):
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as client:
            yield app, address, client


async def test_a_socket_without_a_valid_session_is_refused(server):
    _, address, _ = server
    for token in (None, "not-a-token"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with ws_connect(address, token):
                pass
        assert refused.value.response.status_code == 403


async def test_the_session_cookie_or_token_opens_a_socket_that_answers_presence_queries(server):
    _, address, client = server
    alice, token_a = await signup(client, "alice")
    bob, _ = await signup(client, "bob")
    async with ws_connect(address, additional_headers={
            "Cookie": f"snaproom_session={token_a}"}) as conn:
        assert (await ask(conn, {"type": "ping"}, "pong")) == {"type": "pong"}
        answer = await ask(conn, {"type": "presence:query",
                                  "user_ids": [alice["id"], bob["id"]]}, "presence")
    assert answer["users"][str(alice["id"])]["online"] is True  # the open socket
    assert answer["users"][str(bob["id"])] == {"online": False, "last_seen": None}


async def test_a_private_message_reaches_the_receivers_socket_and_is_stored(server):
    app, address, client = server
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    async with ws_connect(address, token_b) as bob_conn, ws_connect(address, token_a) as a_conn:
        ack = await ask(a_conn, {"type": "private-message", "to_user_id": bob["id"],
                                 "text": "over the socket", "ref": "r1"}, "message:sent")
        pushed = await next_frame(bob_conn, "message")
        # and one over HTTP reaches the socket too
        await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "via http"},
                          headers=bearer(token_a))
        second = await next_frame(bob_conn, "message")
    assert ack["ref"] == "r1" and ack["message"]["text"] == "over the socket"
    assert pushed["message"] == ack["message"]
    assert second["message"]["text"] == "via http"
    stored = (await client.get(f"/api/messages/{alice['id']}", headers=bearer(token_b))).json()
    assert [m["text"] for m in stored["items"]] == ["over the socket", "via http"]


@pytest.mark.parametrize("frame, status", [
    ("not json", 422), ('{"type": "nope"}', 422), ("[]", 422),
    ('{"type": "private-message", "to_user_id": 1}', 422),
    ('{"type": "private-message", "to_user_id": 1, "text": ""}', 422),
    ('{"type": "presence:query", "user_ids": []}', 422),
    ('{"type": "presence:query", "user_ids": [0]}', 422),
    ('{"type": "ping", "pad": "' + "x" * 20000 + '"}', 413),
])
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays_open(server, frame, status):
    _, address, client = server
    _, token = await signup(client, "alice")
    async with ws_connect(address, token) as conn:
        await conn.send(frame)
        error = await next_frame(conn, "error")
        assert error["status"] == status and error["detail"]
        assert (await ask(conn, {"type": "ping"}, "pong"))["type"] == "pong"


async def test_messaging_a_stranger_over_the_socket_is_a_403_frame(server):
    _, address, client = server
    _, token_a = await signup(client, "alice")
    bob, _ = await signup(client, "bob")
    async with ws_connect(address, token_a) as conn:
        error = await ask(conn, {"type": "private-message", "to_user_id": bob["id"],
                                 "text": "hi", "ref": "x"}, "error")
    assert (error["status"], error["ref"]) == (403, "x")


async def test_connections_see_a_user_come_online_and_go_offline(server):
    _, address, client = server
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    async with ws_connect(address, token_b) as bob_conn:
        async with ws_connect(address, token_a):
            online = await next_frame(bob_conn, "presence")
        offline = await next_frame(bob_conn, "presence")
    assert (online["user_id"], online["online"]) == (alice["id"], True)
    assert (offline["user_id"], offline["online"]) == (alice["id"], False)
    body = (await client.get(f"/api/presence?user_ids={alice['id']}",
                             headers=bearer(token_b))).json()
    assert body[str(alice["id"])]["online"] is False
    assert body[str(alice["id"])]["last_seen"] is not None


async def test_a_new_notification_is_pushed_to_the_users_socket(server):
    app, address, client = server
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    async with ws_connect(address, token_b) as bob_conn:
        await client.post("/api/connections", json={"to_user_id": bob["id"]},
                          headers=bearer(token_a))
        await deliver_events(app)
        pushed = await next_frame(bob_conn, "notification")
    assert pushed["notification"]["kind"] == "connection.requested"
    assert pushed["notification"]["payload"]["from_user_id"] == alice["id"]


async def test_a_socket_closes_when_its_session_ends(server):
    _, address, client = server
    _, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    async with ws_connect(address, token_a) as conn:
        assert (await client.post("/api/auth/logout", headers=bearer(token_a))).status_code == 204
        await conn.send(orjson.dumps({"type": "private-message", "to_user_id": bob["id"],
                                      "text": "after logout"}).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_frame(conn, "message:sent")
    assert closed.value.rcvd.code == 1008


async def test_socket_messages_count_against_the_per_user_write_limit(server):
    app, address, client = server
    _, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    runtime = app.state.runtime
    runtime.settings = runtime.settings.with_changes(**{"rate_limit_writes": "2/minute"})
    answers = []
    async with ws_connect(address, token_a) as conn:
        for i in range(3):
            await conn.send(orjson.dumps({"type": "private-message", "to_user_id": bob["id"],
                                          "text": f"n{i}", "ref": str(i)}).decode())
            while True:
                frame = orjson.loads(await conn.recv())
                if frame["type"] in ("message:sent", "error"):
                    answers.append(frame)
                    break
    assert answers[0]["type"] == "message:sent"
    assert (answers[-1]["type"], answers[-1]["status"], answers[-1]["ref"]) == ("error", 429, "2")
