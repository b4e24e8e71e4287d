"""One full flow of the gateway on the real stack, recorded for the security tests.

Signups, a login, bad logins, `/me`, profile reads by the owner, another user and nobody, a
profile change, messages both ways, conversation reads, connections, notifications, a logout, and
answers that are errors (a too-short password, a 129-character one, a wrong one). Every log
record of every logger at every level is kept, and so is every answer body. Then a second app
starts with a wrong Kafka password. What the tests look for in all of it: the `secrets`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select

from snaproom_gateway.api.app import create_app
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.users.models import User
from tests.support.events_support import wait_for

# The gateway's principal on the brokers' SASL_SSL listener (Stack.secure_kafka).
KAFKA_GATEWAY = ("snaproom-gateway", "gateway_kafka_secret")


def gateway_topics() -> list[str]:
    from snaproom_gateway.events.catalog import TOPICS, dlq_topic

    return [name for spec in TOPICS.values() for name in (spec.name, dlq_topic(spec.name))]


@dataclass
class FlowRecord:
    secrets: dict[str, str]               # what must never leave: name -> value
    personal: dict[str, str]              # what must not sit in Redis in the clear
    log_lines: list[str] = field(default_factory=list)
    answers: list[tuple[str, int, bytes]] = field(default_factory=list)  # (what, status, body)
    redis_items: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value bytes)
    first_seq: int = 0
    last_seq: int = 0


class _KeepEverything(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.into.append(self.format(record))  # message, args and traceback, formatted
        except Exception:  # a record that cannot be formatted is still a record
            self.into.append(repr(record.__dict__))


_LOUD = ("", "snaproom_gateway", "aiokafka", "uvicorn", "redis", "asyncio", "httpx", "limits")


def _all_loggers_at_debug() -> None:
    for name in _LOUD:
        logging.getLogger(name).setLevel(logging.DEBUG)


@contextlib.contextmanager
def everything_logged(into: list[str]) -> Iterator[None]:
    """Every record of every logger at DEBUG into `into`; levels restored afterwards."""
    levels = {name: logging.getLogger(name).level for name in _LOUD}
    handler = _KeepEverything(into)
    logging.getLogger().addHandler(handler)
    _all_loggers_at_debug()
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def dump_redis(settings: Settings) -> list[tuple[bytes, bytes]]:
    """Every key of the master and its value, whatever the type, as raw bytes (a fresh client)."""
    from snaproom_gateway.infra import redis as redis_infra

    clients = redis_infra.create_clients(settings)
    client: Redis = clients.master
    items: list[tuple[bytes, bytes]] = []
    try:
        async for key in client.scan_iter(count=1000):
            kind = (await client.type(key)).decode()
            if kind == "string":
                value = await client.get(key) or b""
            elif kind == "list":
                value = b"\n".join(await client.lrange(key, 0, -1))
            elif kind == "set":
                value = b"\n".join(await client.smembers(key))
            elif kind == "zset":
                value = b"\n".join(m for m, _ in await client.zrange(key, 0, -1, withscores=True))
            elif kind == "hash":
                value = b"\n".join(k + b"=" + v for k, v in (await client.hgetall(key)).items())
            elif kind == "stream":
                value = b"\n".join(repr(e).encode() for e in await client.xrange(key))
            else:
                value = b""
            items.append((key, value))
    finally:
        await redis_infra.close(clients)
    return items


async def _wait_until_sent(app: Any, after_seq: int, bound: float = 60.0) -> int:
    async with asyncio.timeout(bound):
        while True:
            async with app.state.runtime.sessionmaker() as session:
                last = await session.scalar(select(func.max(OutboxEvent.seq)))
                pending = await session.scalar(
                    select(func.count()).select_from(OutboxEvent).where(
                        OutboxEvent.seq > after_seq, OutboxEvent.sent_at.is_(None),
                        OutboxEvent.dead_at.is_(None)))
            if not pending:
                return int(last or 0)
            await asyncio.sleep(0.1)


async def run_full_flow(settings: Settings, wrong_kafka: Settings | None) -> FlowRecord:
    run = uuid.uuid4().hex[:10]
    password = f"pw-{run}-Correct-Horse"
    names = {who: f"{who}_{run}" for who in ("alice", "bob")}
    record = FlowRecord(
        secrets={"password": password, "redis_password": settings.redis.password or "",
                 "secret_key": settings.secret_key,
                 "cache_encryption_key": settings.cache.encryption_key.get_secret_value()
                 if settings.cache.encryption_key else "",
                 "kafka_sasl_password": settings.kafka.sasl_password or ""},
        personal={f"{who}_email": f"{name}@example.com" for who, name in names.items()})
    with everything_logged(record.log_lines):
        await _flow(settings, record, names, password)
        if wrong_kafka is not None:
            record.secrets["wrong_kafka_sasl_password"] = wrong_kafka.kafka.sasl_password or ""
            app = create_app(wrong_kafka)
            _all_loggers_at_debug()  # create_app configured logging
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
                    async def refused() -> bool:
                        return bool(app.state.runtime.kafka.last_error)
                    await wait_for(refused, 60)  # the refusal, then a few retries
                    await asyncio.sleep(2)
                    health = await client.get("/api/health/kafka")
                    record.answers.append(("health with a wrong Kafka password",
                                           health.status_code, health.content))
    record.redis_items = await dump_redis(settings)
    return record


async def _flow(settings: Settings, record: FlowRecord, names: dict[str, str],
                password: str) -> None:
    app = create_app(settings)
    _all_loggers_at_debug()  # create_app configured logging
    async with app.router.lifespan_context(app):
        async with app.state.runtime.sessionmaker() as session:
            record.first_seq = int(await session.scalar(
                select(func.coalesce(func.max(OutboxEvent.seq), 0))))
        transport = httpx.ASGITransport(app=app, client=(f"10.16.{os.getpid() % 250}.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

            async def call(what: str, method: str, url: str, token: str | None = None,
                           **kwargs: Any) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = await client.request(method, url, headers=headers, **kwargs)
                record.answers.append((what, response.status_code, response.content))
                client.cookies.clear()
                return response

            users, tokens = {}, {}
            for who, name in names.items():
                short = await call("signup, short password", "POST", "/api/auth/signup", json={
                    "email": f"{name}@example.com", "username": name, "password": "short77"})
                assert short.status_code == 422
                long = await call("signup, long password", "POST", "/api/auth/signup", json={
                    "email": f"{name}@example.com", "username": name,
                    "password": password * 8})
                assert long.status_code == 422
                made = await call("signup", "POST", "/api/auth/signup", json={
                    "email": f"{name}@example.com", "username": name, "password": password,
                    "first_name": "Private", "last_name": f"Person{who}"})
                assert made.status_code == 201, made.text
                users[who], tokens[f"{who}_signup"] = made.json()["user"], made.json()["token"]
            alice, bob = users["alice"]["id"], users["bob"]["id"]
            wrong = await call("login, wrong password", "POST", "/api/auth/login", json={
                "email": f"{names['alice']}@example.com", "password": password + "x"})
            assert wrong.status_code == 401
            unknown = await call("login, unknown email", "POST", "/api/auth/login", json={
                "email": f"nobody_{names['alice']}@example.com", "password": password})
            assert unknown.status_code == 401
            too_long = await call("login, 129 characters", "POST", "/api/auth/login", json={
                "email": f"{names['alice']}@example.com", "password": password * 9})
            assert too_long.status_code == 422
            login = await call("login", "POST", "/api/auth/login", json={
                "email": f"{names['alice']}@example.com", "password": password})
            assert login.status_code == 200
            tokens["alice_login"] = token_a = login.json()["token"]
            token_b = tokens["bob_signup"]
            for token in (token_a, token_b):
                assert (await call("me", "GET", "/api/auth/me", token)).status_code == 200
            assert (await call("own profile", "GET", f"/api/users/{alice}", token_a)
                    ).json()["email"] == f"{names['alice']}@example.com"
            await call("other's profile", "GET", f"/api/users/{alice}", token_b)
            await call("anonymous profile", "GET", f"/api/users/{bob}")
            await call("anonymous profile again", "GET", f"/api/users/{bob}")
            await call("users list", "GET", "/api/users")
            assert (await call("profile change", "PATCH", "/api/users/me", token_a,
                               json={"display_name": "Alice Private"})).status_code == 200
            asked = await call("connection request", "POST", "/api/connections", token_a,
                               json={"to_user_id": bob})
            assert asked.status_code == 201, asked.text
            assert (await call("accept", "POST", f"/api/connections/{asked.json()['id']}/accept",
                               token_b)).status_code == 200
            text = f"private words {uuid.uuid4().hex}"
            record.personal["message_text"] = text
            for i in range(3):
                sent = await call("message", "POST", "/api/messages", token_a if i % 2 == 0
                                  else token_b, json={"to_user_id": bob if i % 2 == 0 else alice,
                                                      "text": f"{text} {i}"})
                assert sent.status_code == 201, sent.text
            for other, token in ((bob, token_a), (alice, token_b)):
                page = await call("conversation", "GET", f"/api/messages/{other}", token)
                assert len(page.json()["items"]) == 3
                await call("conversation again", "GET", f"/api/messages/{other}", token)
            await call("connections", "GET", "/api/connections", token_a)
            await call("notifications", "GET", "/api/notifications", token_b)
            await call("bad bearer", "GET", "/api/auth/me", token_a[:-2] + "zz")
            # Everything written so far reaches Kafka before the app stops.
            record.last_seq = await _wait_until_sent(app, record.first_seq)
            # A second login of Bob, then logout: the revoked token is a secret too.
            second = await call("login bob", "POST", "/api/auth/login", json={
                "email": f"{names['bob']}@example.com", "password": password})
            tokens["bob_login"] = second.json()["token"]
            assert (await call("logout", "POST", "/api/auth/logout", tokens["bob_login"])
                    ).status_code == 204
            assert (await call("after logout", "GET", "/api/auth/me", tokens["bob_login"])
                    ).status_code == 401
            record.last_seq = await _wait_until_sent(app, record.first_seq)
        async with app.state.runtime.sessionmaker() as session:
            hashes = (await session.scalars(
                select(User.password_hash).where(User.id.in_([alice, bob])))).all()
    record.secrets |= {f"token_{k}": v for k, v in tokens.items()}
    record.secrets |= {f"password_hash_{i}": h for i, h in enumerate(hashes)}
    # The argon2 hash's own salt+digest part alone, in case something prints only that.
    record.secrets |= {f"password_digest_{i}": h.rsplit("$", 1)[-1]
                       for i, h in enumerate(hashes)}


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
