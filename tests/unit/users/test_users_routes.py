"""Users routes, profile views and the deletion saga on the embedded defaults."""

import pytest
from sqlalchemy import select

from snaproom_gateway.auth.tokens import token_hash
from snaproom_gateway.cache.keys import full_key
from snaproom_gateway.users import deletion
from snaproom_gateway.users.models import User, UserDeletion
from tests.support.apps import running_app
from tests.support.domain_events import deliver_events, pending_events
from tests.support.users_api import PASSWORD, bearer, signup


async def test_users_list_pages_active_users_and_is_cached_under_users_list(app_client):
    app, client = app_client
    tokens = [(await signup(client, f"member{i}"))[1] for i in range(3)]
    # The signups' user.created events drop the list when delivered: let that happen first,
    # or a late delivery turns the second read into a miss.
    await deliver_events(app)
    first = await client.get("/api/users?page=1&size=2", headers=bearer(tokens[0]))
    assert first.status_code == 200 and first.headers["x-cache"] == "MISS"
    body = first.json()
    assert (body["page"], body["size"], body["total"]) == (1, 2, 3)
    assert [u["username"] for u in body["items"]] == ["member0", "member1"]
    assert "email" not in body["items"][0]
    again = await client.get("/api/users?page=1&size=2", headers=bearer(tokens[0]))
    assert again.headers["x-cache"] == "HIT" and again.json() == body
    assert app.state.runtime.cache.local.tag_members("users:list")
    second = await client.get("/api/users", params={"page": 2, "size": 2},
                              headers=bearer(tokens[0]))
    assert [u["username"] for u in second.json()["items"]] == ["member2"]


@pytest.mark.parametrize(("query", "same_entry"), [
    ("size=1", "page=1&size=1"), ("", "page=1&size=20"), ("page=2", "size=20&page=2")])
async def test_a_list_read_leaving_out_page_or_size_is_answered_by_the_fast_path(
        app_client, query, same_entry):
    app, client = app_client
    for i in range(3):
        await signup(client, f"lister{i}")
    await deliver_events(app)  # the signups' events drop the list: let that happen first
    first = await client.get(f"/api/users?{query}")
    assert first.status_code == 200 and first.headers["x-cache"] == "MISS"
    again = await client.get(f"/api/users?{query}")
    spelled_out = await client.get(f"/api/users?{same_entry}")
    assert again.headers["x-cache"] == "l1" and again.content == first.content
    assert spelled_out.headers["x-cache"] == "l1" and spelled_out.content == first.content


async def test_a_new_user_event_drops_the_cached_list(app_client):
    app, client = app_client
    _, token = await signup(client, "lister")
    await client.get("/api/users", headers=bearer(token))
    await deliver_events(app)
    await signup(client, "newcomer")
    await deliver_events(app)
    listed = await client.get("/api/users", headers=bearer(token))
    assert listed.headers["x-cache"] == "MISS"
    assert listed.json()["total"] == 2


@pytest.mark.parametrize("query", ["page=0", "size=0", "size=101", "page=abc", "size=-1"])
async def test_users_list_rejects_bad_paging_with_422(app_client, query):
    _, client = app_client
    _, token = await signup(client, "pager")
    response = await client.get(f"/api/users?{query}", headers=bearer(token))
    assert response.status_code == 422 and response.json()["detail"]


async def test_writes_need_a_session_while_public_profiles_do_not(domain_settings):
    # The real in-process cache here (not the unit tests' fake), since the HTTP fast path reads it.
    async with running_app(domain_settings) as (_, client):
        for method, path in (("PATCH", "/api/users/me"), ("DELETE", "/api/users/me")):
            response = await client.request(method, path, json={"bio": "x"})
            assert response.status_code == 401, path
            assert response.json() == {"detail": "Not authenticated"}
        owner, token = await signup(client, "public_face")
        anonymous = await client.get(f"/api/users/{owner['id']}")
        assert anonymous.status_code == 200
        assert anonymous.json()["username"] == "public_face"
        assert "email" not in anonymous.json()
        assert anonymous.headers["etag"].startswith('"')
        again = await client.get(f"/api/users/{owner['id']}")
        assert again.headers["x-cache"] == "l1"  # the fast path answered
        assert again.headers["etag"] == anonymous.headers["etag"]
        own = await client.get(f"/api/users/{owner['id']}", headers=bearer(token))
        assert "x-cache" not in own.headers and own.json()["email"] == owner["email"]
        assert (await client.get("/api/users")).status_code == 200


async def test_views_by_someone_else_are_written_in_one_batch_with_one_analytics_event(
        app_client):
    app, client = app_client
    owner, _ = await signup(client, "owner")
    viewer, viewer_token = await signup(client, "viewer")
    for _ in range(2):
        response = await client.get(f"/api/users/{owner['id']}", headers=bearer(viewer_token))
        assert response.status_code == 200
        assert response.json()["username"] == "owner"
        assert "email" not in response.json() and "profile_views" not in response.json()
        assert response.headers["cache-control"] == "private, no-cache"
        assert response.headers["vary"] == "Cookie, Authorization, Origin"
    counted = "profile.views_counted"
    assert not [e for e in await pending_events(app) if e["data"]["event"] == counted]
    assert await app.state.runtime.profile_views.flush() == 2
    views = [e for e in await pending_events(app) if e["data"]["event"] == counted]
    assert len(views) == 1 and views[0]["_topic"] == "analytics-events"
    assert views[0]["data"]["data"] == {"views": {str(owner["id"]): 2}}


async def test_the_owner_sees_profile_views_once_their_batch_is_written(app_client):
    app, client = app_client
    owner, owner_token = await signup(client, "popular")
    _, viewer_token = await signup(client, "fan")
    before = await client.get(f"/api/users/{owner['id']}", headers=bearer(owner_token))
    assert before.json()["profile_views"] == 0
    for _ in range(3):
        await client.get(f"/api/users/{owner['id']}", headers=bearer(viewer_token))
    await client.get(f"/api/users/{owner['id']}", headers=bearer(owner_token))  # not counted
    await app.state.runtime.profile_views.flush()  # its commit drops the owner's cached count
    mine = await client.get(f"/api/users/{owner['id']}", headers=bearer(owner_token))
    assert mine.json()["profile_views"] == 3
    assert mine.json()["email"] == "popular@example.com"


async def test_a_profile_read_comes_from_the_user_cache(app_client):
    app, client = app_client
    owner, _ = await signup(client, "cached")
    _, token = await signup(client, "reader")
    await client.get(f"/api/users/{owner['id']}", headers=bearer(token))
    assert await app.state.runtime.cache.get(f"user:{owner['id']}") is not None
    assert app.state.runtime.cache.local.tag_members(f"user:{owner['id']}")


@pytest.mark.parametrize("user_id", ["999999", "0", "-1", "abc", str(2**70)])
async def test_an_unknown_or_bad_user_id_is_404_or_422(app_client, user_id):
    _, client = app_client
    _, token = await signup(client, "seeker")
    response = await client.get(f"/api/users/{user_id}", headers=bearer(token))
    assert response.status_code == (404 if user_id == "999999" else 422)
    assert response.json()["detail"]


async def test_patch_me_changes_the_profile_and_publishes_updated_and_audit(app_client):
    app, client = app_client
    user, token = await signup(client, "editor")
    response = await client.patch("/api/users/me", headers=bearer(token), json={
        "display_name": "The Editor", "bio": "Writes things",
        "avatar_url": "https://example.com/a.png", "first_name": "Ed"})
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "The Editor"
    assert response.json()["avatar_url"] == "https://example.com/a.png"
    updated = [e for e in await pending_events(app) if e["data"]["event"] == "user.updated"]
    assert updated[0]["data"]["data"] == {
        "fields": ["avatar_url", "bio", "display_name", "first_name"]}
    await deliver_events(app)  # drops user:{id}
    other_token = (await signup(client, "other_reader"))[1]
    seen = await client.get(f"/api/users/{user['id']}", headers=bearer(other_token))
    assert seen.json()["display_name"] == "The Editor"


@pytest.mark.parametrize("body", [{}, {"role": "admin"}, {"email": "x@example.com"},
                                  {"avatar_url": "javascript:alert(1)"}, {"bio": "x" * 2001},
                                  {"display_name": ""}, {"display_name": 5}])
async def test_patch_me_rejects_bad_or_forbidden_fields_with_422(app_client, body):
    _, client = app_client
    _, token = await signup(client, "strict")
    response = await client.patch("/api/users/me", headers=bearer(token), json=body)
    assert response.status_code == 422, body
    assert response.json()["detail"]


async def test_delete_me_revokes_sessions_and_the_saga_frees_the_account(app_client):
    app, client = app_client
    user, token = await signup(client, "goner")
    login = await client.post("/api/auth/login",
                              json={"email": "goner@example.com", "password": PASSWORD})
    second_token = login.json()["token"]
    client.cookies.clear()
    response = await client.delete("/api/users/me", headers=bearer(token))
    assert response.status_code == 202 and response.json()["status"] == "deleting"
    for t in (token, second_token):  # every session, at once
        assert (await client.get("/api/auth/me", headers=bearer(t))).status_code == 401
    relogin = await client.post("/api/auth/login",
                                json={"email": "goner@example.com", "password": PASSWORD})
    assert relogin.status_code == 401
    assert "user.deleted" in await deliver_events(app)
    async with app.state.runtime.sessionmaker() as session:
        row = await session.get(User, user["id"])
        saga = await session.scalar(select(UserDeletion))
    assert (row.status, row.email, row.bio) == ("deleted", f"deleted-{row.id}@deleted.invalid",
                                                None)
    assert (saga.status, saga.attempts) == ("completed", 1)
    _, new_token = await signup(client, "goner")  # email and username are free again
    listed = await client.get("/api/users", headers=bearer(new_token))
    assert [u["username"] for u in listed.json()["items"]] == ["goner"]
    gone = await client.get(f"/api/users/{user['id']}", headers=bearer(new_token))
    assert gone.status_code == 404


async def test_a_purge_step_that_fails_once_is_retried_and_the_deletion_completes(app_client):
    app, client = app_client
    user, token = await signup(client, "flaky")
    calls = []

    async def flaky(session, user_id):
        calls.append(user_id)
        if len(calls) == 1:
            raise RuntimeError("the messages store is briefly away")

    deletion.purge_steps["flaky_test_step"] = flaky  # run last, after the domains' steps

    try:
        await client.delete("/api/users/me", headers=bearer(token))
        await deliver_events(app)
    finally:
        deletion.purge_steps.pop("flaky_test_step")
    async with app.state.runtime.sessionmaker() as session:
        saga = await session.scalar(select(UserDeletion))
        row = await session.get(User, user["id"])
    assert calls == [user["id"], user["id"]]
    assert (saga.status, saga.attempts, row.status) == ("completed", 2, "deleted")
    assert "the messages store is briefly away" in saga.last_error


async def test_a_deletion_that_cannot_finish_is_compensated_and_reported(app_client):
    app, client = app_client
    user, token = await signup(client, "stuck")
    _, viewer_token = await signup(client, "watcher")
    await client.get(f"/api/users/{user['id']}", headers=bearer(viewer_token))
    await deliver_events(app)

    async def broken(session, user_id):
        raise RuntimeError("notifications table is locked")

    deletion.purge_steps["broken_test_step"] = broken  # run last, after the domains' steps

    try:
        await client.delete("/api/users/me", headers=bearer(token))
        delivered = await deliver_events(app)
    finally:
        deletion.purge_steps.pop("broken_test_step")
    assert "user.restored" in delivered and "audit.user_deletion_failed" in delivered
    async with app.state.runtime.sessionmaker() as session:
        saga = await session.scalar(select(UserDeletion))
        row = await session.get(User, user["id"])
    max_attempts = app.state.runtime.settings.users.deletion_max_attempts
    assert (saga.status, saga.attempts) == ("compensated", max_attempts)
    assert (row.status, row.email, row.deleted_at) == ("active", "stuck@example.com", None)
    # Nothing half-deleted: the steps that did run before the failure were undone too.
    relogin = await client.post("/api/auth/login",
                                json={"email": "stuck@example.com", "password": PASSWORD})
    assert relogin.status_code == 200
    owner_token = relogin.json()["token"]
    mine = await client.get(f"/api/users/{user['id']}", headers=bearer(owner_token))
    assert mine.json()["profile_views"] == 1


async def test_deleting_twice_is_a_conflict_not_a_second_saga(app_client):
    app, client = app_client
    user, token = await signup(client, "twice")
    async with app.state.runtime.sessionmaker() as session:
        row = await session.get(User, user["id"])
        await deletion.start(app.state.runtime, session, row)
        from snaproom_gateway.users.exceptions import DeletionInProgress

        with pytest.raises(DeletionInProgress):
            await deletion.start(app.state.runtime, session, row)


async def test_a_redelivered_user_deleted_event_is_a_no_op(app_client):
    app, client = app_client
    user, token = await signup(client, "redelivered")
    await client.delete("/api/users/me", headers=bearer(token))
    await deliver_events(app)
    async with app.state.runtime.sessionmaker() as session:
        outcome = await deletion.finish(session, app.state.runtime.settings, user["id"])
    assert outcome == "skipped"


async def test_the_user_cache_holds_only_the_public_profile(app_client):
    import orjson

    app, client = app_client
    owner, _ = await signup(client, "private_person")
    _, token = await signup(client, "curious")
    await client.get(f"/api/users/{owner['id']}", headers=bearer(token))
    cached = orjson.loads(await app.state.runtime.cache.get(f"user:{owner['id']}"))
    assert cached["username"] == "private_person"
    assert not {"email", "role", "status", "password_hash"} & set(cached)


async def test_the_session_entry_carries_the_user_facts_and_the_user_tag(app_client):
    import orjson

    app, client = app_client
    user, token = await signup(client, "tagged")
    entry = orjson.loads(await app.state.runtime.cache.get(f"session:{token_hash(token)}"))
    assert (entry["user_id"], entry["role"], entry["email"]) == (
        user["id"], "user", "tagged@example.com")
    assert full_key(f"session:{token_hash(token)}") in app.state.runtime.cache.local.tag_members(
        f"user:{user['id']}")


async def test_concurrent_reads_of_an_uncached_profile_read_the_database_once(app_client):
    import asyncio

    from sqlalchemy import event

    app, client = app_client
    owner, _ = await signup(client, "wanted")
    await deliver_events(app)  # signup's events drop the user's tags; let them pass first
    await app.state.runtime.cache.invalidate_tags([f"user:{owner['id']}"])
    reads: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if "FROM users" in statement:
            reads.append(statement)

    event.listen(app.state.runtime.engine.sync_engine, "before_cursor_execute", record)
    try:
        answers = await asyncio.gather(*(client.get(f"/api/users/{owner['id']}")
                                         for _ in range(20)))
    finally:
        event.remove(app.state.runtime.engine.sync_engine, "before_cursor_execute", record)
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["username"] for a in answers} == {"wanted"}
    assert len(reads) == 1, reads  # the cache's single flight: one load for 20 readers
