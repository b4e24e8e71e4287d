"""TLS to Redis through Sentinel (REDIS_SSL, REDIS_SSL_CA_FILE), on the harness's TLS-only group
(redis-tls: a master, a replica and three Sentinels that speak TLS only), also after a failover.
What is on the wire is checked with redis-cli: a plaintext client is refused, a TLS one with the
stack's CA reads the gateway's (sealed) entries."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest

from snaproom_gateway.infra import redis as redis_infra
from tests.support.domain_stack import migrate, stack_settings, unique
from tests.support.servers import Stack, _state_lock
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_stack():
    st = Stack(verbose=False)
    with _state_lock(st):
        before = set(st.running())
        st.up("pg", "redis-tls")
    try:
        yield st
    finally:
        ours = [n for n in st.running() if n not in before]
        if ours and os.environ.get("SNAPROOM_STACK_KEEP") != "1":
            st.down(*ours)


@pytest.fixture(scope="module")
def tls_settings(tls_stack):
    env = {k: v for k, v in tls_stack.tls_env().items() if k != "KAFKA_BROKERS"}
    configured = stack_settings(env, kafka_brokers=[])
    asyncio.run(migrate(configured))
    return configured


def redis_cli(stack: Stack, port: int, *args: str, tls: bool = True) -> subprocess.CompletedProcess:
    tls_args = ["--tls", "--cacert", str(stack.tls_dir / "ca.pem")] if tls else []
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *tls_args,
                           "-a", "redis_secret", "--no-auth-warning", *args],
                          capture_output=True, text=True, timeout=30)


def session_keys(stack: Stack, port: int) -> set[str]:
    listed = redis_cli(stack, port, "--scan", "--pattern", "snaproom:v1:session:*")
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


def test_the_tls_group_refuses_plaintext_clients(tls_stack):
    for name in ("redis-tls-master", "sentinel-tls-1"):
        plain = redis_cli(tls_stack, tls_stack.ports[name], "PING", tls=False)
        assert "PONG" not in plain.stdout
        assert redis_cli(tls_stack, tls_stack.ports[name], "PING").stdout.strip() == "PONG"


async def test_the_gateway_talks_tls_to_sentinels_and_master_and_its_entries_are_there(
        tls_settings, tls_stack):
    from tests.support.domain_stack import app_on_stack

    assert tls_settings.redis.ssl and tls_settings.redis.sentinel_master == "snaproom-tls"
    async with app_on_stack(tls_settings) as (app, client):
        _, token = await signup(client, unique("tls"))
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
        health = (await client.get("/api/health/redis")).json()
        assert health["status"] == "healthy", health
        master = tls_stack.redis_master_port(tls=True)
        assert f"127.0.0.1:{master}" in str(health)  # what the Sentinels said, over TLS
        assert session_keys(tls_stack, master), "the session entry went to the TLS master"
        # The L1's invalidation subscriber (a blocking client in its own thread) is on too.
        assert await app.state.runtime.cache.subscriber.wait_live(10)


@pytest.fixture
def other_ca(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(tmp_path / "k.pem"), "-out", str(tmp_path / "other-ca.pem"), "-days",
                    "1", "-subj", "/CN=someone else"], check=True, capture_output=True)
    return str(tmp_path / "other-ca.pem")


async def test_a_ca_that_did_not_sign_the_servers_certificate_is_refused(tls_settings, other_ca):
    settings = tls_settings.with_changes(**{"redis_ssl_ca_file": other_ca})
    clients = redis_infra.create_clients(settings)
    try:
        for sentinel in clients.sentinel.sentinels:  # the first hop: asking where the master is
            with pytest.raises(Exception) as caught:
                async with asyncio.timeout(10):
                    await sentinel.ping()
            assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value), repr(caught.value)
    finally:
        await redis_infra.close(clients)


async def test_after_a_failover_the_gateway_follows_the_new_master_over_tls(
        tls_settings, tls_stack):
    from tests.support.domain_stack import app_on_stack

    old_port = tls_stack.redis_master_port(tls=True)
    old = tls_stack.redis_node_for_port(old_port)
    async with app_on_stack(tls_settings) as (app, client):
        _, before = await signup(client, unique("tlsf"))
        tls_stack.kill(old)
        try:
            deadline = time.monotonic() + 60
            while tls_stack.redis_master_port(tls=True) in (old_port, None):
                assert time.monotonic() < deadline, "Sentinels did not fail over"
                await asyncio.sleep(0.2)
            new_port = tls_stack.redis_master_port(tls=True)
            # The client asks the Sentinels (over TLS) again and writes to the new master.
            probe = f"snaproom:v1:test:tls-failover:{unique('k')}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    await app.state.runtime.redis.master.set(probe, b"x", ex=60)
                    break
                except Exception:
                    assert time.monotonic() < deadline, "no write reached the new master"
                    await asyncio.sleep(0.2)
            assert redis_cli(tls_stack, new_port, "EXISTS", probe).stdout.strip() == "1"
            _, after = await signup(client, unique("tlsg"))
            assert (await client.get("/api/auth/me", headers=bearer(after))).status_code == 200
            assert (await client.get("/api/auth/me", headers=bearer(before))).status_code == 200
            assert len(session_keys(tls_stack, new_port)) >= 1
        finally:
            tls_stack.start(old)  # comes back as a replica of the new master
        info = redis_cli(tls_stack, old_port, "INFO", "replication").stdout
        assert "role:slave" in info
