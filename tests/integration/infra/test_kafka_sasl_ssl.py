"""The gateway through the brokers' SASL_SSL listener: SCRAM-SHA-512 over TLS, topic and group ACLs
from the standard authorizer (deploy/local/stack.py, deploy/kafka/SecureSetup.java).

The gateway's principal may use the gateway's topics and groups only. A wrong password, a CA that
did not sign the brokers' certificates, or a topic outside the ACL each give one clear log line,
a `kafka` health entry that names the cause, no crash, and no lost write (the outbox holds it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess

import pytest
from sqlalchemy import func, or_, select

from snaproom_gateway.events.models import OutboxEvent
from tests.support.domain_stack import app_on_stack, migrate, stack_settings, unique
from tests.support.events_support import cli, wait_for
from tests.support.security_flow import KAFKA_GATEWAY, gateway_topics
from tests.support.social_api import connected_pair
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration

GATEWAY = KAFKA_GATEWAY
LIMITED = ("snaproom-limited", "limited_kafka_secret")  # everything but the denied topic
DENIED_TOPIC = "analytics-events"
ALL_TOPICS = gateway_topics()


@pytest.fixture(scope="module")
def secured(stack):
    stack.secure_kafka((*GATEWAY, "snaproom-gateway", ALL_TOPICS),
                       (*LIMITED, "snaproom-limited",
                        [t for t in ALL_TOPICS if not t.startswith(DENIED_TOPIC)]))
    return stack


def secure_settings(stack, user: str, password: str, **overrides):
    env = stack.secure_kafka_env(user, password)
    configured = stack_settings(env, outbox_backoff_max=1.0, events_retry_backoff=0.05,
                                kafka_consumer_group_id=user, **overrides)
    asyncio.run(migrate(configured))
    return configured


@pytest.fixture
def other_ca(tmp_path) -> str:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(tmp_path / "k.pem"), "-out", str(tmp_path / "other-ca.pem"), "-days", "1",
                    "-subj", "/CN=not the brokers' CA"], check=True, capture_output=True)
    return str(tmp_path / "other-ca.pem")


def test_publish_consume_topics_ensure_and_lag_through_sasl_ssl(secured):
    settings = secure_settings(secured, *GATEWAY)

    async def flow():
        async with app_on_stack(settings) as (app, client):
            async def topics_ready():
                return app.state.runtime.events.relay.sink.topics_ready
            await wait_for(topics_ready, 60)
            alice, token_a, bob, _ = await connected_pair(client, unique("sa"), unique("sb"))

            # connection.accepted: relay -> Kafka (SASL_SSL) -> the `notifications` group.
            async def alice_notified():
                items = (await client.get("/api/notifications", headers=bearer(token_a))
                         ).json()["items"]
                return [n["kind"] for n in items] == ["connection.accepted"]
            await wait_for(alice_notified, 60, interval=0.2)
            health = await client.get("/api/health/kafka")
            return health.status_code, health.json()["kafka"]

    status, health = asyncio.run(flow())
    assert status == 200 and health["status"] == "healthy", health
    assert health["brokers"] == 3
    assert "notifications" in health["consumer_groups"]
    env = {k: v for k, v in secured.secure_kafka_env(*GATEWAY).items() if k.startswith("KAFKA_")}
    ensured = cli(secured.env(), "topics", "ensure", **env)
    assert ensured.returncode == 0, ensured.stderr
    lag = cli(secured.env(), "offsets", "show", "--group", "snaproom-gateway.notifications",
              "--json", **env)
    assert lag.returncode == 0, lag.stderr
    assert "connection-events" in lag.stdout and "lag" in lag.stdout


@pytest.mark.parametrize("case", ["wrong password", "untrusted certificate"])
def test_a_refused_connection_names_its_cause_once_and_loses_no_write(
        secured, other_ca, caplog, case):
    overrides = ({"kafka_sasl_password": "not-the-password"} if case == "wrong password"
                 else {"kafka_ssl_cafile": other_ca})
    settings = secure_settings(secured, *GATEWAY, **overrides)
    expected = {"wrong password": "SASL authentication failed for user 'snaproom-gateway'",
                "untrusted certificate": "TLS certificate is not trusted"}[case]
    caplog.set_level(logging.WARNING, logger="snaproom_gateway")

    async def flow():
        async with app_on_stack(settings) as (app, client):
            user, _ = await signup(client, unique("nk"))  # the write is not refused
            async def named():
                return expected in (app.state.runtime.kafka.last_error or "")
            await wait_for(named, 30)
            await asyncio.sleep(3)  # several retries: still one line
            health = await client.get("/api/health/kafka")
            async with app.state.runtime.sessionmaker() as session:
                held = (await session.scalars(select(OutboxEvent).where(
                    OutboxEvent.sent_at.is_(None), OutboxEvent.dead_at.is_(None))
                    .order_by(OutboxEvent.seq.desc()).limit(20))).all()
            return user, health.status_code, health.json()["kafka"], held

    user, status, health, held = asyncio.run(flow())
    assert status == 503 and expected in health["error"], health
    assert any(json.loads(row.payload)["data"]["user_id"] == user["id"] for row in held)
    lines = [r.getMessage() for r in caplog.records
             if r.name == "snaproom_gateway.infra.kafka" and expected in r.getMessage()]
    assert len(lines) == 1, lines
    assert "not-the-password" not in caplog.text


def test_a_topic_outside_the_acl_is_named_once_its_rows_wait_and_the_others_flow(
        secured, caplog):
    settings = secure_settings(secured, *LIMITED)
    caplog.set_level(logging.WARNING, logger="snaproom_gateway")

    async def flow():
        async with app_on_stack(settings) as (app, client):
            async with app.state.runtime.sessionmaker() as session:
                before = await session.scalar(select(func.coalesce(func.max(OutboxEvent.seq), 0)))
            alice, token_a = await signup(client, unique("la"))
            bob, token_b = await signup(client, unique("lb"))
            viewed = await client.get(f"/api/users/{alice['id']}", headers=bearer(token_b))
            # The view's batch (profile.views_counted) goes to analytics-events: denied.
            assert viewed.status_code == 200
            await asyncio.sleep(3)  # several relay rounds
            carol, _ = await signup(client, unique("lc"))  # after the refusals: still flows
            await asyncio.sleep(4)
            health = await client.get("/api/health/kafka")
            async with app.state.runtime.sessionmaker() as session:
                rows = (await session.scalars(select(OutboxEvent).where(or_(
                    OutboxEvent.key.in_([str(user["id"]) for user in (alice, bob, carol)]),
                    (OutboxEvent.topic == DENIED_TOPIC) & (OutboxEvent.seq > before))))).all()
            return health.status_code, health.json(), [
                (r.topic, r.sent_at is not None, r.dead_at is not None) for r in rows]

    status, health, rows = asyncio.run(flow())
    assert status == 200 and health["kafka"]["status"] == "degraded", health
    assert "TopicAuthorizationFailed" in health["kafka"]["error"]
    assert DENIED_TOPIC in health["kafka"]["error"]
    denied = [r for r in rows if r[0] == DENIED_TOPIC]
    others = [r for r in rows if r[0] != DENIED_TOPIC]
    assert denied and all(not sent and not dead for _, sent, dead in denied)  # held, not lost
    assert others and all(sent for _, sent, _ in others), rows  # the allowed topics flow
    warnings = [r.getMessage() for r in caplog.records
                if r.name.startswith("snaproom_gateway") and r.levelno >= logging.WARNING]
    assert len([w for w in warnings if "not authorized for topics analytics-events" in w]) == 1
    assert len([w for w in warnings if "TopicAuthorizationFailed" in w]) == 1, warnings
