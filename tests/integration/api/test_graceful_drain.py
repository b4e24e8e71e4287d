"""Graceful drain under load (issue 15, part 3): `snaproom-gateway serve` on the real stack gets
SIGTERM while 8 clients write and 4 WebSockets are open. Within SHUTDOWN_TIMEOUT the sockets get
1001, the process exits 0, and every acknowledged write's event is in the outbox (sent by this
relay, or left pending for the next instance); a second instance then relays what is left.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
import websockets
from sqlalchemy import func, select

from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.infra import database
from tests.support.apps import running_app
from tests.support.domain_stack import migrate, stack_settings, unique
from tests.support.events_support import REPO, cli_env, wait_for
from tests.support.social_api import free_port
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration

WRITERS, SOCKETS = 8, 4


async def _started(base: str, process: subprocess.Popen) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        async def ready() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                return (await client.get("/api/health/ready")).status_code == 200
            except httpx.TransportError:
                return False
        await wait_for(ready, 90, interval=0.3)


async def test_sigterm_under_load_drains_closes_sockets_1001_and_loses_no_write(stack_env):
    settings = stack_settings(stack_env)
    await migrate(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = cli_env(stack_env, RATE_LIMIT_WRITES="100000/minute",
                  RATE_LIMIT_SIGNUP="100000/minute", SHUTDOWN_TIMEOUT="20",
                  REDIS_SENTINELS=stack_env["REDIS_SENTINELS"],
                  REDIS_SENTINEL_MASTER=stack_env["REDIS_SENTINEL_MASTER"],
                  REDIS_PASSWORD=stack_env["REDIS_PASSWORD"], CACHE_DRIVER="redis")
    command = [sys.executable, "-m", "snaproom_gateway", "serve", "--port", str(port)]
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, then polled
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await _started(base, process)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            # Eight writers, each connected to one receiver they all write to.
            receiver, receiver_token = await signup(client, unique("hub"))
            tokens = []
            for _ in range(WRITERS):
                _, token = await signup(client, unique("drain"))
                asked = await client.post("/api/connections", headers=bearer(token),
                                          json={"to_user_id": receiver["id"]})
                assert asked.status_code == 201, asked.text
                accepted = await client.post(f"/api/connections/{asked.json()['id']}/accept",
                                             headers=bearer(receiver_token))
                assert accepted.status_code == 200, accepted.text
                tokens.append(token)
            async with app_engine(settings) as session:
                start_seq = await session.scalar(select(func.coalesce(func.max(OutboxEvent.seq),
                                                                      0)))
        sockets = [await websockets.connect(f"ws://127.0.0.1:{port}/ws?token={tokens[i]}",
                                            open_timeout=20) for i in range(SOCKETS)]
        acknowledged: list[int] = []
        failed: dict[str, int] = {}
        signalled = asyncio.Event()

        async def writer(i: int) -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as own:
                n = 0
                while True:  # noqa: ASYNC110 - a client writing until the server goes away
                    n += 1
                    try:
                        answer = await own.post("/api/messages", headers=bearer(tokens[i]),
                                                json={"to_user_id": receiver["id"],
                                                      "text": f"drain {i} {n}"})
                    except httpx.TransportError as exc:
                        if signalled.is_set():
                            failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                            return  # the server stopped listening
                        raise
                    if answer.status_code == 201:
                        acknowledged.append(answer.json()["id"])
                    else:
                        failed[str(answer.status_code)] = failed.get(str(answer.status_code), 0) + 1
                        if signalled.is_set():
                            return

        writers = [asyncio.create_task(writer(i)) for i in range(WRITERS)]
        await wait_for(lambda: _at_least(acknowledged, 4 * WRITERS), 60)
        process.send_signal(signal.SIGTERM)
        signalled.set()
        closes = []
        for conn in sockets:
            try:
                async with asyncio.timeout(30):
                    async for _ in conn:
                        pass
            except TimeoutError:
                pass
            closes.append(conn.close_code)
        await asyncio.wait_for(asyncio.gather(*writers), 60)
        exit_code = await asyncio.to_thread(process.wait, 40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    print(f"\nSIGTERM under load: {len(acknowledged)} writes acknowledged, failed at the signal "
          f"{failed}, socket closes {closes}, exit {exit_code}")
    assert exit_code == 0, stderr[-2000:]
    assert closes == [1001] * SOCKETS

    # Every acknowledged write has its message.sent in the outbox; a second instance relays
    # whatever the first left pending.
    async with running_app(settings) as (app, _):
        seen: dict[str, object] = {}

        async def relayed() -> bool:
            async with app.state.runtime.sessionmaker() as session:
                rows = (await session.execute(
                    select(OutboxEvent.payload, OutboxEvent.sent_at)
                    .where(OutboxEvent.seq > start_seq,
                           OutboxEvent.topic == "message-events"))).all()
            ids = [orjson.loads(p)["data"]["data"]["message_id"] for p, _ in rows]
            seen["ids"], seen["unsent"] = ids, sum(1 for _, sent in rows if sent is None)
            return seen["unsent"] == 0

        await wait_for(relayed, 60, interval=0.5)
    ids = seen["ids"]
    print(f"outbox: {len(ids)} message.sent events, all sent")
    assert not set(acknowledged) - set(ids)
    assert len(ids) == len(set(ids))  # one event per message


@asynccontextmanager
async def app_engine(settings):
    engine = database.create_engine(settings)
    try:
        async with database.create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def _at_least(items: list, n: int) -> bool:
    return len(items) >= n
