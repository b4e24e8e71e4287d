"""REDIS_SSL reaches every Redis connection the gateway makes (no server needed to check)."""

from __future__ import annotations

from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelManagedSSLConnection

from snaproom_gateway.cache.redis_store import subscriber_client
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import redis as redis_infra


def settings(**values) -> Settings:
    return Settings(_env_file=None, app_env="testing", **values)


def test_sentinel_mode_with_tls_uses_tls_for_sentinels_master_replica_and_the_subscriber():
    clients = redis_infra.create_clients(settings(
        redis_sentinels="127.0.0.1:1,127.0.0.1:2", redis_ssl=True, redis_ssl_ca_file="/ca.pem"))
    for client in (clients.master, clients.replica, subscriber_client(clients.master)):
        pool = client.connection_pool
        assert pool.connection_class is SentinelManagedSSLConnection
        assert pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem"
        assert pool.connection_kwargs["ssl_cert_reqs"] == "required"
    for sentinel in clients.sentinel.sentinels:
        assert issubclass(sentinel.connection_pool.connection_class, SSLConnection)


def test_a_plain_redis_url_with_redis_ssl_becomes_rediss_and_standalone_host_too():
    by_url = redis_infra.create_clients(settings(redis_url="redis://h:6380/0", redis_ssl=True))
    assert issubclass(by_url.master.connection_pool.connection_class, SSLConnection)
    by_host = redis_infra.create_clients(settings(redis_host="h", redis_ssl=True))
    assert issubclass(by_host.master.connection_pool.connection_class, SSLConnection)
    plain = redis_infra.create_clients(settings(redis_host="h"))
    assert not issubclass(plain.master.connection_pool.connection_class, SSLConnection)
