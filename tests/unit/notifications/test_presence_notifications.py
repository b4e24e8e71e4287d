"""Presence, notifications and the user-deletion purge on the embedded defaults."""

import asyncio

import pytest
from sqlalchemy import func, or_, select

from snaproom_gateway.connections.models import Connection
from snaproom_gateway.messages.models import Message
from snaproom_gateway.notifications.models import Notification
from tests.support.domain_events import deliver_events
from tests.support.social_api import connected_pair
from tests.support.users_api import bearer, signup


async def test_a_heartbeat_marks_online_others_stay_offline(app_client):
    _, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, _ = await signup(client, "bob")
    beat = await client.post("/api/presence/heartbeat", headers=bearer(token_a))
    assert beat.status_code == 200
    assert beat.json()["online"] is True and beat.json()["ttl"] == 300
    response = await client.get(f"/api/presence?user_ids={alice['id']},{bob['id']},999",
                                headers=bearer(token_a))
    assert response.status_code == 200
    body = response.json()
    assert body[str(alice["id"])]["online"] is True and body[str(alice["id"])]["last_seen"]
    assert body[str(bob["id"])] == {"online": False, "last_seen": None}
    assert body["999"] == {"online": False, "last_seen": None}


async def test_presence_expires_after_its_ttl(app_client):
    app, client = app_client
    alice, token_a = await signup(client, "alice")
    await app.state.runtime.presence.touch(alice["id"], -1)  # already past its deadline
    body = (await client.get(f"/api/presence?user_ids={alice['id']}",
                             headers=bearer(token_a))).json()
    assert body[str(alice["id"])]["online"] is False
    assert body[str(alice["id"])]["last_seen"] is not None


@pytest.mark.parametrize("ids", ["", ",", "a", "1,b", "0", "-1", "1.5",
                                 ",".join(str(i) for i in range(1, 102)), "9" * 30, "١"])
async def test_bad_user_ids_are_400(app_client, ids):
    _, client = app_client
    _, token = await signup(client, "alice")
    response = await client.get("/api/presence", params={"user_ids": ids},
                                headers=bearer(token))
    assert response.status_code == 400 and response.json()["detail"]


async def test_presence_needs_user_ids_and_a_session(app_client):
    _, client = app_client
    _, token = await signup(client, "alice")
    assert (await client.get("/api/presence", headers=bearer(token))).status_code == 422
    assert (await client.get("/api/presence?user_ids=1")).status_code == 401
    assert (await client.post("/api/presence/heartbeat")).status_code == 401


async def test_request_and_acceptance_notify_the_other_side_once(app_client):
    app, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    asked = (await client.post("/api/connections", json={"to_user_id": bob["id"]},
                               headers=bearer(token_a))).json()
    await deliver_events(app)
    to_bob = (await client.get("/api/notifications", headers=bearer(token_b))).json()["items"]
    assert [(n["kind"], n["payload"], n["read"]) for n in to_bob] == [
        ("connection.requested", {"connection_id": asked["id"], "from_user_id": alice["id"]},
         False)]
    await client.post(f"/api/connections/{asked['id']}/accept", headers=bearer(token_b))
    await deliver_events(app)
    to_alice = (await client.get("/api/notifications", headers=bearer(token_a))).json()["items"]
    assert [(n["kind"], n["payload"]) for n in to_alice] == [
        ("connection.accepted", {"connection_id": asked["id"], "by_user_id": bob["id"]})]
    assert len((await client.get("/api/notifications",
                                 headers=bearer(token_b))).json()["items"]) == 1


async def test_a_rejection_notifies_no_one(app_client):
    app, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    asked = (await client.post("/api/connections", json={"to_user_id": bob["id"]},
                               headers=bearer(token_a))).json()
    await client.post(f"/api/connections/{asked['id']}/reject", headers=bearer(token_b))
    await deliver_events(app)
    assert (await client.get("/api/notifications", headers=bearer(token_a))).json()["items"] == []


async def test_a_redelivered_event_does_not_notify_twice(app_client):
    from types import SimpleNamespace

    from snaproom_gateway.notifications.handlers import notify_connection_change

    app, client = app_client
    alice, _ = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    envelope = SimpleNamespace(id="0190a000-0000-7000-8000-000000000001", data=SimpleNamespace(
        event="connection.requested", user_id=alice["id"],
        data={"connection_id": 7, "from_user_id": alice["id"], "to_user_id": bob["id"]}))
    for _ in range(2):
        async with app.state.runtime.sessionmaker() as session:
            await notify_connection_change(envelope, SimpleNamespace(
                session=lambda: session, realtime_bus=app.state.runtime.realtime_bus,
                settings=app.state.runtime.settings))
            await session.commit()
    items = (await client.get("/api/notifications", headers=bearer(token_b))).json()["items"]
    assert len(items) == 1


async def test_unread_filter_and_mark_read_which_is_idempotent_and_owner_only(app_client):
    app, client = app_client
    _, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    await deliver_events(app)
    [note] = (await client.get("/api/notifications?unread=true",
                               headers=bearer(token_a))).json()["items"]
    by_other = await client.post(f"/api/notifications/{note['id']}/read",
                                 headers=bearer(token_b))
    assert by_other.status_code == 404
    read = await client.post(f"/api/notifications/{note['id']}/read", headers=bearer(token_a))
    assert read.status_code == 200 and read.json()["read"] is True
    again = await client.post(f"/api/notifications/{note['id']}/read", headers=bearer(token_a))
    assert again.json()["read_at"] == read.json()["read_at"]
    assert (await client.get("/api/notifications?unread=true",
                             headers=bearer(token_a))).json()["items"] == []
    assert len((await client.get("/api/notifications",
                                 headers=bearer(token_a))).json()["items"]) == 1
    assert (await client.post("/api/notifications/0/read",
                              headers=bearer(token_a))).status_code == 422
    assert (await client.post("/api/notifications/99999/read",
                              headers=bearer(token_a))).status_code == 404
    assert (await client.get("/api/notifications?unread=maybe",
                             headers=bearer(token_a))).status_code == 422
    assert (await client.get("/api/notifications")).status_code == 401


async def _count(app, model, user_id):
    columns = [c for c in ("sender_id", "receiver_id", "requester_id", "addressee_id", "user_id")
               if hasattr(model, c)]
    async with app.state.runtime.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(
            or_(*(getattr(model, c) == user_id for c in columns))))


async def test_deleting_a_user_removes_their_connections_messages_and_notifications(app_client):
    app, client = app_client
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    carol, token_c = await signup(client, "carol")
    await client.post("/api/connections", json={"to_user_id": alice["id"]},
                      headers=bearer(token_c))
    await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "bye"},
                      headers=bearer(token_a))
    await client.post("/api/messages", json={"to_user_id": alice["id"], "text": "ok"},
                      headers=bearer(token_b))
    await deliver_events(app)
    assert await _count(app, Notification, alice["id"]) >= 1
    assert (await client.delete("/api/users/me", headers=bearer(token_a))).status_code == 202
    assert "user.deleted" in await deliver_events(app)
    for model in (Connection, Message, Notification):
        assert await _count(app, model, alice["id"]) == 0, model
    assert (await client.get("/api/connections", headers=bearer(token_b))).json()["items"] == []
    assert (await client.get(f"/api/messages/{alice['id']}",
                             headers=bearer(token_b))).status_code == 404
    # Bob keeps his other data; a second purge of the same user changes nothing.
    from snaproom_gateway.users.deletion import purge_steps
    async with app.state.runtime.sessionmaker() as session:
        for name in ("connections", "messages", "notifications"):
            await purge_steps[name](session, alice["id"])
        await session.commit()
    assert await _count(app, Notification, bob["id"]) >= 1


async def test_a_notification_is_pushed_only_after_the_runner_commits(app_client):
    from types import SimpleNamespace

    from snaproom_gateway.notifications.handlers import notify_connection_change

    app, client = app_client
    alice, _ = await signup(client, "alice")
    bob, _ = await signup(client, "bob")
    pushed = []

    class Recorder:
        async def publish(self, user_ids, payload):
            pushed.append((user_ids, payload["type"]))

    app.state.runtime.realtime_bus = Recorder()
    data = {"connection_id": 7, "from_user_id": alice["id"], "to_user_id": bob["id"]}
    for event_id, commit in (("0190a000-0000-7000-8000-00000000000a", False),
                             ("0190a000-0000-7000-8000-00000000000b", True)):
        envelope = SimpleNamespace(id=event_id, data=SimpleNamespace(
            event="connection.requested", user_id=alice["id"], data=data))
        async with app.state.runtime.sessionmaker() as session:
            await notify_connection_change(envelope, SimpleNamespace(
                session=lambda: session, realtime_bus=app.state.runtime.realtime_bus,
                settings=app.state.runtime.settings))
            assert pushed == []
            await (session.commit() if commit else session.rollback())
        for _ in range(100):  # the push is a task started by the commit
            if pushed:
                break
            await asyncio.sleep(0.01)
    assert pushed == [([bob["id"]], "notification")]
