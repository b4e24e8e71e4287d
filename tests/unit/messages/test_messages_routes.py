"""Messages on the embedded defaults: send, read, the recent-messages set, errors, events."""

import pytest

from tests.support.domain_events import deliver_events, pending_events
from tests.support.social_api import connected_pair
from tests.support.users_api import bearer, signup


async def test_a_message_to_a_connection_is_201_and_publishes_message_sent(app_client):
    app, client = app_client
    alice, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    await deliver_events(app)
    await client.post("/api/presence/heartbeat", headers=bearer(_))  # bob is online
    written = len(await pending_events(app))
    sent = await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "hi bob"},
                             headers=bearer(token_a))
    assert sent.status_code == 201
    body = sent.json()
    assert (body["from_user_id"], body["to_user_id"], body["text"]) == (
        alice["id"], bob["id"], "hi bob")
    events = [e["data"] for e in (await pending_events(app))[written:]]
    assert events == [{"event": "message.sent", "user_id": alice["id"], "data": {
        "message_id": body["id"], "from_user_id": alice["id"], "to_user_id": bob["id"],
        "text": "hi bob"}}]


async def test_a_message_to_an_offline_receiver_also_publishes_a_notification(app_client):
    app, client = app_client
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    await deliver_events(app)
    written = len(await pending_events(app))
    sent = (await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "psst"},
                              headers=bearer(token_a))).json()
    events = {e["data"]["event"]: e["data"] for e in (await pending_events(app))[written:]}
    assert set(events) == {"message.sent", "notification.created"}
    assert events["notification.created"]["user_id"] == bob["id"]
    assert events["notification.created"]["data"] == {
        "channel": "in_app", "kind": "message.received",
        "payload": {"message_id": sent["id"], "from_user_id": alice["id"], "preview": "psst"}}
    await deliver_events(app)
    listed = (await client.get("/api/notifications", headers=bearer(token_b))).json()["items"]
    assert [n["kind"] for n in listed][:1] == ["message.received"]


async def test_send_errors_not_connected_403_self_400_unknown_404(app_client):
    _, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    stranger = await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "x"},
                                 headers=bearer(token_a))
    await client.post("/api/connections", json={"to_user_id": bob["id"]},
                      headers=bearer(token_a))
    pending = await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "x"},
                                headers=bearer(token_a))
    to_self = await client.post("/api/messages", json={"to_user_id": alice["id"], "text": "x"},
                                headers=bearer(token_a))
    unknown = await client.post("/api/messages", json={"to_user_id": 424242, "text": "x"},
                                headers=bearer(token_a))
    assert stranger.status_code == pending.status_code == 403
    assert stranger.json() == {"detail": "You can only message your connections"}
    assert to_self.status_code == 400
    assert unknown.status_code == 404


@pytest.mark.parametrize("text", ["", "   ", "x" * 4001, "nul \u0000 inside"])
async def test_text_outside_1_to_4000_chars_is_422(app_client, text):
    _, client = app_client
    _, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    response = await client.post("/api/messages", json={"to_user_id": bob["id"], "text": text},
                                 headers=bearer(token_a))
    assert response.status_code == 422 and response.json()["detail"]


async def test_text_of_exactly_4000_chars_is_accepted(app_client):
    _, client = app_client
    _, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    response = await client.post("/api/messages",
                                 json={"to_user_id": bob["id"], "text": "é" * 4000},
                                 headers=bearer(token_a))
    assert response.status_code == 201


async def test_a_conversation_reads_the_same_from_both_sides_oldest_first(app_client):
    _, client = app_client
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    for i in range(3):
        await client.post("/api/messages", json={"to_user_id": bob["id"], "text": f"a{i}"},
                          headers=bearer(token_a))
        await client.post("/api/messages", json={"to_user_id": alice["id"], "text": f"b{i}"},
                          headers=bearer(token_b))
    from_a = (await client.get(f"/api/messages/{bob['id']}", headers=bearer(token_a))).json()
    from_b = (await client.get(f"/api/messages/{alice['id']}", headers=bearer(token_b))).json()
    assert [m["text"] for m in from_a["items"]] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert from_a == from_b
    assert from_a["next_before"] is None


async def test_the_last_50_come_from_one_recent_set_per_pair_and_older_pages_from_the_db(
        app_client):
    app, client = app_client
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    sent = []
    for i in range(55):
        response = await client.post("/api/messages", json={"to_user_id": bob["id"],
                                                            "text": f"m{i}"},
                                     headers=bearer(token_a))
        sent.append(response.json()["id"])
    store = app.state.runtime.recent_messages
    cached = await store.read(bob["id"], alice["id"])
    # Appends to a set never filled from the database are not a complete page: a miss.
    assert cached is None
    page = (await client.get(f"/api/messages/{bob['id']}", headers=bearer(token_a))).json()
    assert [m["id"] for m in page["items"]] == sent[-50:]
    assert page["next_before"] == sent[-50]
    assert len(await store.read(alice["id"], bob["id"])) == 50
    await client.post("/api/messages", json={"to_user_id": alice["id"], "text": "reply"},
                      headers=bearer(token_b))
    stored = await store.read(alice["id"], bob["id"])
    assert len(stored) == 50 and b'"reply"' in stored[-1]
    newest = (await client.get(f"/api/messages/{alice['id']}?limit=2",
                               headers=bearer(token_b))).json()
    assert [m["text"] for m in newest["items"]] == ["m54", "reply"]
    older = (await client.get(f"/api/messages/{bob['id']}",
                              params={"before": page["next_before"], "limit": 10},
                              headers=bearer(token_a))).json()
    assert [m["id"] for m in older["items"]] == sent[:5]
    assert older["next_before"] is None


async def test_reading_a_conversation_errors(app_client):
    _, client = app_client
    alice, token_a = await signup(client, "alice")
    assert (await client.get(f"/api/messages/{alice['id']}",
                             headers=bearer(token_a))).status_code == 400
    assert (await client.get("/api/messages/777777", headers=bearer(token_a))).status_code == 404
    for query in ("limit=0", "limit=101", "before=0", "before=x", "limit=abc"):
        response = await client.get(f"/api/messages/1?{query}", headers=bearer(token_a))
        assert response.status_code == 422, query
    assert (await client.get("/api/messages/abc", headers=bearer(token_a))).status_code == 422
    assert (await client.get("/api/messages/1")).status_code == 401
    assert (await client.post("/api/messages", json={})).status_code == 401


async def test_message_writes_are_rate_limited_per_user(app_client):
    app, client = app_client
    _, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    runtime = app.state.runtime
    runtime.settings = runtime.settings.with_changes(**{"rate_limit_writes": "2/minute"})
    codes = [(await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "x"},
                                headers=bearer(token_a))).status_code for _ in range(3)]
    assert codes[0] == 201 and codes[-1] == 429


async def test_sent_pushed_and_read_messages_are_the_same_json(app_client):
    _, client = app_client
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    sent = (await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "same"},
                              headers=bearer(token_a))).json()
    from_db = (await client.get(f"/api/messages/{alice['id']}", headers=bearer(token_b))).json()
    from_set = (await client.get(f"/api/messages/{alice['id']}", headers=bearer(token_b))).json()
    assert from_db["items"] == from_set["items"] == [sent]
