"""Small helpers for tests that sign users up and call the API as them."""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery"


async def signup(client: httpx.AsyncClient, name: str, **extra: Any) -> tuple[dict, str]:
    response = await client.post("/api/auth/signup", json={
        "email": f"{name}@example.com", "username": name, "password": PASSWORD, **extra})
    assert response.status_code == 201, response.text
    body = response.json()
    client.cookies.clear()  # each call below says which credentials it uses
    return body["user"], body["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_admin(app: Any, email: str) -> None:
    """Promote an existing user (as `users create-admin` does) and let its events run."""
    from snaproom_gateway.users import service as users_service
    from tests.support.domain_events import deliver_events

    async with app.state.runtime.sessionmaker() as session:
        await users_service.create_admin(session, email=email, username=None, password=None)
        await session.commit()
    await deliver_events(app)  # user.updated drops the cached user (role)


async def admin_headers(app: Any, client: httpx.AsyncClient, name: str = "root") -> dict:
    """Sign up `name`, make it an admin, return its Authorization header."""
    _, token = await signup(client, name)
    await make_admin(app, f"{name}@example.com")
    return bearer(token)
