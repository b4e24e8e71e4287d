"""Helpers for the social API's tests: connect two users, read the outbox, run real servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import uvicorn
import websockets

from snaproom_gateway.api.app import create_app
from snaproom_gateway.core.settings import Settings
from tests.support.users_api import bearer, signup


async def connected_pair(client: httpx.AsyncClient, first: str, second: str
                         ) -> tuple[dict, str, dict, str]:
    """Two users with an accepted connection: (user_a, token_a, user_b, token_b)."""
    user_a, token_a = await signup(client, first)
    user_b, token_b = await signup(client, second)
    asked = await client.post("/api/connections", json={"to_user_id": user_b["id"]},
                              headers=bearer(token_a))
    assert asked.status_code == 201, asked.text
    accepted = await client.post(f"/api/connections/{asked.json()['id']}/accept",
                                 headers=bearer(token_b))
    assert accepted.status_code == 200, accepted.text
    return user_a, token_a, user_b, token_b


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def gateway_server(settings: Settings) -> AsyncIterator[tuple[Any, str]]:
    """The app on a real uvicorn server on 127.0.0.1 (lifespan on): (app, base URL)."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning",
                            ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn stopped before starting")
                await asyncio.sleep(0.05)
        yield app, f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def ws_connect(address: str, token: str | None = None, **kwargs: Any
                     ) -> AsyncIterator[websockets.ClientConnection]:
    query = f"?token={token}" if token else ""
    async with websockets.connect(f"ws://{address}/ws{query}", open_timeout=10,
                                  close_timeout=5, **kwargs) as conn:
        yield conn


async def next_frame(conn: websockets.ClientConnection, kind: str, timeout: float = 10.0
                     ) -> dict[str, Any]:
    """The next frame of `type` kind (others are skipped); fails after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            frame = orjson.loads(await conn.recv())
            if frame.get("type") == kind:
                return frame


async def ask(conn: websockets.ClientConnection, frame: dict[str, Any], kind: str
              ) -> dict[str, Any]:
    await conn.send(orjson.dumps(frame).decode())
    return await next_frame(conn, kind)
