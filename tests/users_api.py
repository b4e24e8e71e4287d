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
