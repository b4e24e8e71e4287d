"""Connection requests on the embedded defaults: every route, its errors and its events."""

import pytest

from tests.support.domain_events import deliver_events, pending_events
from tests.support.social_api import connected_pair
from tests.support.users_api import bearer, signup


async def test_a_request_is_pending_and_publishes_connection_requested(app_client):
    app, client = app_client
    alice, token = await signup(client, "alice")
    bob, _ = await signup(client, "bob")
    await deliver_events(app)
    response = await client.post("/api/connections", json={"to_user_id": bob["id"]},
                                 headers=bearer(token))
    assert response.status_code == 201
    body = response.json()
    assert (body["requester_id"], body["addressee_id"], body["status"]) == (
        alice["id"], bob["id"], "pending")
    [event] = [e for e in await pending_events(app) if e["_topic"] == "connection-events"]
    assert event["data"] == {"event": "connection.requested", "user_id": alice["id"], "data": {
        "connection_id": body["id"], "from_user_id": alice["id"], "to_user_id": bob["id"]}}


async def test_request_errors_self_unknown_duplicate_and_reverse_duplicate(app_client):
    _, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    to_self = await client.post("/api/connections", json={"to_user_id": alice["id"]},
                                headers=bearer(token_a))
    unknown = await client.post("/api/connections", json={"to_user_id": 999999},
                                headers=bearer(token_a))
    first = await client.post("/api/connections", json={"to_user_id": bob["id"]},
                              headers=bearer(token_a))
    again = await client.post("/api/connections", json={"to_user_id": bob["id"]},
                              headers=bearer(token_a))
    reverse = await client.post("/api/connections", json={"to_user_id": alice["id"]},
                                headers=bearer(token_b))
    assert to_self.status_code == 400 and to_self.json()["detail"]
    assert unknown.status_code == 404
    assert first.status_code == 201
    assert again.status_code == reverse.status_code == 409
    assert "pending" in again.json()["detail"]


async def test_asking_an_existing_connection_again_is_409_already_connected(app_client):
    _, client = app_client
    alice, token_a, bob, _ = await connected_pair(client, "alice", "bob")
    again = await client.post("/api/connections", json={"to_user_id": bob["id"]},
                              headers=bearer(token_a))
    assert again.status_code == 409 and again.json()["detail"] == "Already connected"


@pytest.mark.parametrize("body", [{}, {"to_user_id": 0}, {"to_user_id": -3},
                                  {"to_user_id": "x"}, {"to_user_id": 2**63},
                                  {"to_user_id": 1, "extra": 1}])
async def test_a_malformed_request_is_422(app_client, body):
    _, client = app_client
    _, token = await signup(client, "alice")
    response = await client.post("/api/connections", json=body, headers=bearer(token))
    assert response.status_code == 422 and response.json()["detail"]


async def test_only_the_addressee_answers_others_get_403_and_unknown_ids_404(app_client):
    app, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    _, token_c = await signup(client, "carol")
    asked = (await client.post("/api/connections", json={"to_user_id": bob["id"]},
                               headers=bearer(token_a))).json()
    by_requester = await client.post(f"/api/connections/{asked['id']}/accept",
                                     headers=bearer(token_a))
    by_stranger = await client.post(f"/api/connections/{asked['id']}/reject",
                                    headers=bearer(token_c))
    missing = await client.post("/api/connections/987654/accept", headers=bearer(token_b))
    bad_id = await client.post("/api/connections/0/accept", headers=bearer(token_b))
    assert by_requester.status_code == by_stranger.status_code == 403
    assert missing.status_code == 404
    assert bad_id.status_code == 422
    await deliver_events(app)
    written = len(await pending_events(app))
    accepted = await client.post(f"/api/connections/{asked['id']}/accept",
                                 headers=bearer(token_b))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    twice = await client.post(f"/api/connections/{asked['id']}/reject", headers=bearer(token_b))
    assert twice.status_code == 409
    events = [e["data"] for e in (await pending_events(app))[written:]
              if e["_topic"] == "connection-events"]
    assert events == [{"event": "connection.accepted", "user_id": bob["id"], "data": {
        "connection_id": asked["id"], "from_user_id": alice["id"], "to_user_id": bob["id"]}}]


async def test_a_rejected_request_can_be_asked_again(app_client):
    _, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    asked = (await client.post("/api/connections", json={"to_user_id": bob["id"]},
                               headers=bearer(token_a))).json()
    rejected = await client.post(f"/api/connections/{asked['id']}/reject",
                                 headers=bearer(token_b))
    assert rejected.json()["status"] == "rejected"
    # Now Bob asks Alice: the pair's row is reused, Bob is the requester.
    again = await client.post("/api/connections", json={"to_user_id": alice["id"]},
                              headers=bearer(token_b))
    assert again.status_code == 201
    assert (again.json()["requester_id"], again.json()["status"]) == (bob["id"], "pending")


async def test_lists_show_accepted_connections_and_pending_requests_per_side(app_client):
    app, client = app_client
    alice, token_a, bob, token_b = await connected_pair(client, "alice", "bob")
    carol, token_c = await signup(client, "carol")
    await client.post("/api/connections", json={"to_user_id": alice["id"]},
                      headers=bearer(token_c))
    mine = await client.get("/api/connections", headers=bearer(token_a))
    assert mine.status_code == 200
    assert [(c["user"]["id"], c["status"]) for c in mine.json()["items"]] == [
        (bob["id"], "accepted")]
    theirs = (await client.get("/api/connections", headers=bearer(token_b))).json()
    assert [c["user"]["username"] for c in theirs["items"]] == ["alice"]
    incoming = (await client.get("/api/connections/requests", headers=bearer(token_a))).json()
    assert [c["user"]["id"] for c in incoming["items"]] == [carol["id"]]
    outgoing = (await client.get("/api/connections/requests?direction=outgoing",
                                 headers=bearer(token_c))).json()
    assert [c["user"]["id"] for c in outgoing["items"]] == [alice["id"]]
    assert (await client.get("/api/connections/requests?direction=sideways",
                             headers=bearer(token_c))).status_code == 422


async def test_lists_are_cached_and_the_writer_reads_its_own_write(app_client):
    app, client = app_client
    alice, token_a = await signup(client, "alice")
    bob, token_b = await signup(client, "bob")
    first = await client.get("/api/connections/requests", headers=bearer(token_b))
    assert first.headers["x-cache"] == "MISS" and first.json()["items"] == []
    hit = await client.get("/api/connections/requests", headers=bearer(token_b))
    assert hit.headers["x-cache"] == "HIT"
    assert app.state.runtime.cache.local.tag_members(f"connections:{bob['id']}")
    await client.post("/api/connections", json={"to_user_id": bob["id"]},
                      headers=bearer(token_a))
    after = await client.get("/api/connections/requests", headers=bearer(token_b))
    assert after.headers["x-cache"] == "MISS"
    assert [c["user"]["id"] for c in after.json()["items"]] == [alice["id"]]


async def test_connection_routes_need_a_session(app_client):
    _, client = app_client
    for method, path in (("POST", "/api/connections"), ("GET", "/api/connections"),
                         ("GET", "/api/connections/requests"),
                         ("POST", "/api/connections/1/accept"),
                         ("POST", "/api/connections/1/reject")):
        response = await client.request(method, path, json={"to_user_id": 1})
        assert response.status_code == 401, path
