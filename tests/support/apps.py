"""Run the real app: in-process (lifespan started, an httpx client bound to it), or served by
uvicorn with the gateway's HTTP protocol on a 127.0.0.1 socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from snaproom_gateway.api import serving
from snaproom_gateway.api.app import create_app
from snaproom_gateway.api.subscriptions import include_domains
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.subscribers import Subscribers

# Handlers a test subscribes for the apps running_app starts (the test removes them after):
# included after the domains' subscribers.
extra_subscribers = Subscribers()


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings,
                     subscribers=include_domains(settings).include(extra_subscribers))
    async with app.router.lifespan_context(app):
        if not settings.database.uses_sqlite:
            await _events_from_now(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield app, client


class CountingApp:
    """Counts the HTTP requests that reach the ASGI app (the protocol answers without it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


@asynccontextmanager
async def served(settings: Settings, **config: Any) -> AsyncIterator[tuple[CountingApp, str]]:
    """The app behind uvicorn (the protocol `serve` uses) on a free port: (app, base URL)."""
    app = CountingApp(create_app(settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, http=serving.http_protocol(settings),
                                           log_level="warning", lifespan="on", **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


async def _events_from_now(app: FastAPI) -> None:
    """deliver_events() (tests/domain_events.py) names the events written since its last call;
    on the stack's PostgreSQL, which outlives test runs, that starts with this app, not with rows
    earlier runs (or other tests' probe rows) left behind."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from snaproom_gateway.events.models import OutboxEvent

    try:
        async with app.state.runtime.sessionmaker() as session:
            app.state.test_events_cursor = await session.scalar(
                select(func.coalesce(func.max(OutboxEvent.seq), 0)))
    except (SQLAlchemyError, OSError):
        pass  # a test of a database that is down or not migrated: nothing to skip
