"""REDIS_SSL reaches every Redis connection the gateway makes (no server needed to check)."""

from __future__ import annotations

from redis import connection as blocking_connection
from redis import sentinel as blocking_sentinel
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelManagedSSLConnection

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import redis as redis_infra


def settings(**values) -> Settings:
    return Settings(_env_file=None, app_env="testing", **values)


def test_sentinel_mode_with_tls_uses_tls_for_sentinels_master_replica_and_the_subscriber():
    configured = settings(redis_sentinels="127.0.0.1:1,127.0.0.1:2", redis_ssl=True,
                          redis_ssl_ca_file="/ca.pem")
    clients = redis_infra.create_clients(configured)
    subscriber = redis_infra.subscriber_client(configured)
    for client, ssl_class in ((clients.master, SentinelManagedSSLConnection),
                              (clients.replica, SentinelManagedSSLConnection),
                              (subscriber, blocking_sentinel.SentinelManagedSSLConnection)):
        pool = client.connection_pool
        assert pool.connection_class is ssl_class
        assert pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem"
        assert pool.connection_kwargs["ssl_cert_reqs"] == "required"
    for sentinel in clients.sentinel.sentinels:
        assert issubclass(sentinel.connection_pool.connection_class, SSLConnection)
    for sentinel in subscriber.connection_pool.sentinel_manager.sentinels:
        assert issubclass(sentinel.connection_pool.connection_class,
                          blocking_connection.SSLConnection)


def test_a_plain_redis_url_with_redis_ssl_becomes_rediss_and_standalone_host_too():
    by_url = redis_infra.create_clients(settings(redis_url="redis://h:6380/0", redis_ssl=True))
    assert issubclass(by_url.master.connection_pool.connection_class, SSLConnection)
    by_host = redis_infra.create_clients(settings(redis_host="h", redis_ssl=True))
    assert issubclass(by_host.master.connection_pool.connection_class, SSLConnection)
    plain = redis_infra.create_clients(settings(redis_host="h"))
    assert not issubclass(plain.master.connection_pool.connection_class, SSLConnection)


def test_the_subscriber_client_follows_the_url_or_host_with_tls_and_never_retries():
    for values in ({"redis_url": "redis://:pw@h:6380/2", "redis_ssl": True},
                   {"redis_host": "h", "redis_port": 6380, "redis_ssl": True}):
        client = redis_infra.subscriber_client(settings(redis_sentinels=[], **values))
        pool = client.connection_pool
        assert issubclass(pool.connection_class, blocking_connection.SSLConnection)
        assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"]) == ("h", 6380)
        assert pool.connection_kwargs["retry"].get_retries() == 0
    plain = redis_infra.subscriber_client(settings(redis_sentinels=[], redis_url="redis://h:6380/2"))
    assert not issubclass(plain.connection_pool.connection_class, blocking_connection.SSLConnection)
    assert plain.connection_pool.connection_kwargs["db"] == 2
