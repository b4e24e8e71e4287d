"""Admin role, the audit consumer and /api/admin/audit on the embedded defaults."""

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from snaproom_gateway.api.auth import AdminUser
from snaproom_gateway.audit.models import AuditEntry
from tests.support.apps import running_app
from tests.support.domain_events import deliver_events
from tests.support.users_api import PASSWORD, bearer, make_admin, signup


async def test_admin_routes_are_401_without_session_403_without_role_200_with_it(app_client):
    app, client = app_client
    _, user_token = await signup(client, "plain")
    _, admin_token = await signup(client, "chief")
    await make_admin(app, "chief@example.com")
    anonymous = await client.get("/api/admin/audit")
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": "Not authenticated"}
    forbidden = await client.get("/api/admin/audit", headers=bearer(user_token))
    assert forbidden.status_code == 403
    assert forbidden.json() == {"detail": "Admin role required"}
    allowed = await client.get("/api/admin/audit", headers=bearer(admin_token))
    assert allowed.status_code == 200


async def test_the_audit_trail_records_who_what_when_and_the_correlation_id(app_client):
    app, client = app_client
    user, token = await signup(client, "audited")
    await client.post("/api/auth/login", json={"email": "audited@example.com", "password": "no"},
                      headers={"X-Request-ID": "req-failed-login"})
    await client.patch("/api/users/me", headers=bearer(token) | {"X-Request-ID": "req-patch"},
                       json={"bio": "hello"})
    await client.post("/api/auth/logout", headers=bearer(token))
    _, admin_token = await signup(client, "auditor")
    await make_admin(app, "auditor@example.com")
    await deliver_events(app)
    trail = (await client.get("/api/admin/audit", params={"user_id": user["id"]},
                              headers=bearer(admin_token))).json()
    actions = [entry["action"] for entry in trail]
    assert actions == ["logout", "profile_updated", "login_failed", "signup"]  # newest first
    patch = trail[1]
    assert patch["user_id"] == user["id"]
    assert patch["context"] == {"fields": ["bio"]}
    assert patch["correlation_id"] == "req-patch"
    assert trail[2]["correlation_id"] == "req-failed-login"
    assert patch["occurred_at"] <= patch["recorded_at"]
    only_logins = (await client.get("/api/admin/audit", headers=bearer(admin_token),
                                    params={"action": "admin_created", "limit": 5})).json()
    assert [e["action"] for e in only_logins] == ["admin_created"]


async def test_a_redelivered_audit_event_is_stored_once(app_client):
    from types import SimpleNamespace

    from snaproom_gateway.audit.handlers import record
    from snaproom_gateway.events.envelope import Envelope

    app, _ = app_client
    envelope = Envelope.from_bytes(
        b'{"id": "0190f000-0000-7000-8000-000000000001", "timestamp": "2026-01-15T10:30:00Z",'
        b' "correlation_id": "c1", "data": {"event": "audit.login", "user_id": null,'
        b' "data": {"action": "login", "context": {}}}}')
    for _ in range(2):
        async with app.state.runtime.sessionmaker() as session:
            await record(envelope, SimpleNamespace(session=lambda s=session: s,
                                                   settings=app.state.runtime.settings))
            await session.commit()
    async with app.state.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 1


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "user_id=abc", "action=DROP TABLE",
                                   "before_id=0"])
async def test_audit_search_rejects_bad_filters_with_422(app_client, query):
    app, client = app_client
    _, admin_token = await signup(client, "filterer")
    await make_admin(app, "filterer@example.com")
    response = await client.get(f"/api/admin/audit?{query}", headers=bearer(admin_token))
    assert response.status_code == 422 and response.json()["detail"]


async def test_require_admin_guards_other_admin_routers(domain_settings):
    from fastapi import APIRouter

    extra = APIRouter(prefix="/api/admin/extra")

    @extra.get("")
    async def extra_route(admin: AdminUser) -> dict:
        return {"admin": admin.username}

    async with running_app(domain_settings) as (app, client):
        app.include_router(extra)
        _, token = await signup(client, "boss")
        assert (await client.get("/api/admin/extra", headers=bearer(token))).status_code == 403
        await make_admin(app, "boss@example.com")
        answer = await client.get("/api/admin/extra", headers=bearer(token))
    assert answer.json() == {"admin": "boss"}


def test_cli_create_admin_creates_then_promotes_and_validates(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "snaproom_gateway", "users", "create-admin",
                               *args], env=env, cwd=tmp_path, input=stdin, capture_output=True,
                              text=True, timeout=120)

    created = run("--email", "Root@Example.com", "--username", "root", "--password-stdin",
                  stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "admin root@example.com (id 1) created"
    again = run("--email", "root@example.com")
    assert again.returncode == 0 and "was already an admin" in again.stdout
    no_password = run("--email", "new@example.com")
    assert no_password.returncode == 1 and "--password-stdin" in no_password.stderr
    bad_email = run("--email", "not-an-email")
    assert bad_email.returncode == 2 and "invalid email" in bad_email.stderr
    short = run("--email", "xavier@example.com", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "invalid password" in short.stderr
    bad_name = run("--email", "x@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad_name.returncode == 2 and "pass --username" in bad_name.stderr
    dotted = run("--email", "first.last@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert dotted.returncode == 0 and "created" in dotted.stdout


async def test_a_cli_made_admin_can_sign_in_and_read_the_trail(tmp_path, domain_settings):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "DATABASE_URL": domain_settings.database.url}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "snaproom_gateway", "users", "create-admin",
                         "--email", "ops@example.com", "--password-stdin"], env=env, cwd=tmp_path,
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    async with running_app(domain_settings) as (_, client):
        login = await client.post("/api/auth/login",
                                  json={"email": "ops@example.com", "password": PASSWORD})
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
        trail = await client.get("/api/admin/audit", headers=bearer(login.json()["token"]))
    assert trail.status_code == 200


async def test_reading_the_trail_is_itself_audited(app_client):
    app, client = app_client
    admin, token = await signup(client, "reader_admin")
    await make_admin(app, "reader_admin@example.com")
    await client.get("/api/admin/audit", params={"action": "login"}, headers=bearer(token))
    await deliver_events(app)
    seen = (await client.get("/api/admin/audit", headers=bearer(token),
                             params={"action": "admin_audit_viewed"})).json()
    assert seen[0]["user_id"] == admin["id"]
    assert seen[0]["context"]["filters"]["action"] == "login"
