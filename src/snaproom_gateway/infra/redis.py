"""Redis: a standalone client, or a Sentinel-aware master client plus an optional replica client.

The clients are created once per process. redis-py's `Sentinel.master_for` builds a new pool on
every call (redis/redis-py#3433), so it is called exactly once here, and the Sentinel's own
connections are closed on shutdown (redis/redis-py#3201). The cache's invalidation subscriber
reads its channel in a thread, with a blocking client of the same settings (subscriber_client).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from redis import Redis as BlockingRedis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as BlockingRetry
from redis.sentinel import Sentinel as BlockingSentinel

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.redis_pool import BlockingSentinelConnectionPool

# Measured on loopback (tests/faults): with this retry policy a master_for client follows a Sentinel
# failover on its own, writes stall ~9 s after the kill and at most one call surfaces an error.
FAILOVER_RETRY_ATTEMPTS = 20
RETRY_ON = [RedisConnectionError, RedisTimeoutError, ReadOnlyError]


@dataclass
class RedisClients:
    """What the process holds of Redis for its whole life."""

    master: Redis
    replica: Redis | None = None
    sentinel: Sentinel | None = None
    sentinel_master_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "sentinel" if self.sentinel is not None else "standalone"

    @property
    def reader(self) -> Redis:
        """Where reads may go: the replica when one is configured, else the master."""
        return self.replica or self.master


def _sentinel_address(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    return host, int(port)


def tls_options(settings: Settings) -> dict[str, Any]:
    """redis-py's TLS arguments for REDIS_SSL (empty when it is off): the server's certificate
    is always verified, against REDIS_SSL_CA_FILE or the system's CAs."""
    if not settings.redis.ssl:
        return {}
    return {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": settings.redis.ssl_ca_file,
            "ssl_check_hostname": settings.redis.ssl_check_hostname}


def create_clients(settings: Settings) -> RedisClients:
    """Build the clients. Nothing connects here, so an unreachable Redis cannot block start-up."""
    tls = tls_options(settings)
    common = _connection_options(settings) | {"max_connections": settings.redis.max_connections}
    if settings.redis.sentinels:
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), FAILOVER_RETRY_ATTEMPTS)
        sentinel = Sentinel(_sentinel_addresses(settings), min_other_sentinels=0,
                            sentinel_kwargs=_sentinel_options(settings))
        # A full pool waits REDIS_POOL_TIMEOUT for a connection (back-pressure), see redis_pool.
        waiting = {"connection_pool_class": BlockingSentinelConnectionPool,
                   "timeout": settings.redis.pool_timeout}
        master = sentinel.master_for(
            settings.redis.sentinel_master,
            **waiting,
            retry=retry,
            retry_on_error=RETRY_ON,
            **common,
        )
        replica = None
        if settings.redis.replica_reads:
            replica = sentinel.slave_for(
                settings.redis.sentinel_master,
                **waiting,
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                **common,
            )
        return RedisClients(master, replica, sentinel, settings.redis.sentinel_master)
    if settings.redis.url:
        client = Redis.from_url(
            _url(settings),
            socket_timeout=settings.redis.socket_timeout,
            socket_connect_timeout=settings.redis.connect_timeout,
            health_check_interval=15,
            max_connections=settings.redis.max_connections,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            **{k: v for k, v in tls.items() if k != "ssl"},
        )
        return RedisClients(client)
    client = Redis(
        host=settings.redis.host or "127.0.0.1",
        port=settings.redis.port,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        **common,
    )
    return RedisClients(client)


def subscriber_client(settings: Settings) -> BlockingRedis:
    """A blocking client for the cache's invalidation subscriber thread (cache/coherence.py):
    the same server or Sentinel service, AUTH, database, TLS and timeouts as the master client,
    and no retries, so a dropped connection surfaces at once. Nothing connects here."""
    no_retry = {"retry": BlockingRetry(NoBackoff(), 0)}
    if settings.redis.sentinels:
        sentinel = BlockingSentinel(_sentinel_addresses(settings), min_other_sentinels=0,
                                    sentinel_kwargs=_sentinel_options(settings))
        return sentinel.master_for(settings.redis.sentinel_master, **no_retry,
                                   **_connection_options(settings))
    if settings.redis.url:
        tls = {k: v for k, v in tls_options(settings).items() if k != "ssl"}
        return BlockingRedis.from_url(
            _url(settings), socket_timeout=settings.redis.socket_timeout,
            socket_connect_timeout=settings.redis.connect_timeout, health_check_interval=15,
            **no_retry, **tls)
    return BlockingRedis(host=settings.redis.host or "127.0.0.1", port=settings.redis.port,
                         **no_retry, **_connection_options(settings))


def close_subscriber_client(client: BlockingRedis) -> None:
    """Close a subscriber_client, its Sentinel connections included."""
    client.close()
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        sentinel.close()


def _connection_options(settings: Settings) -> dict[str, Any]:
    return {
        "password": settings.redis.password,
        "db": settings.redis.db,
        "socket_timeout": settings.redis.socket_timeout,
        "socket_connect_timeout": settings.redis.connect_timeout,
        "health_check_interval": 15,
        **tls_options(settings),
    }


def _sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    return [_sentinel_address(item) for item in settings.redis.sentinels]


def _sentinel_options(settings: Settings) -> dict[str, Any]:
    return {
        "password": settings.redis.sentinel_password,
        "socket_timeout": settings.redis.socket_timeout,
        "socket_connect_timeout": settings.redis.connect_timeout,
        **tls_options(settings),  # the Sentinels listen on TLS too
    }


def _url(settings: Settings) -> str:
    url = settings.redis.url
    if settings.redis.ssl and url.startswith("redis://"):  # the same server, over TLS
        url = "rediss://" + url.removeprefix("redis://")
    return url


async def ping(clients: RedisClients, timeout: float) -> float:
    """PING the master; return the round trip in milliseconds. Raises on failure or timeout."""
    started = time.perf_counter()
    async with asyncio.timeout(timeout):
        await clients.master.ping()
    return (time.perf_counter() - started) * 1000


async def describe(clients: RedisClients, timeout: float) -> dict[str, Any]:
    """Facts for the health report: role, replicas, and what the Sentinels say."""
    facts: dict[str, Any] = {"mode": clients.mode}
    async with asyncio.timeout(timeout):
        info = await clients.master.info("replication")
        facts["role"] = info.get("role")
        facts["connected_replicas"] = int(info.get("connected_slaves", 0))
        if clients.sentinel is not None and clients.sentinel_master_name:
            host, port = await clients.sentinel.discover_master(clients.sentinel_master_name)
            facts["master"] = f"{host}:{port}"
            replicas = await clients.sentinel.discover_slaves(clients.sentinel_master_name)
            facts["replicas"] = [f"{h}:{p}" for h, p in replicas]
            facts["sentinels"] = len(clients.sentinel.sentinels)
    return facts


async def close(clients: RedisClients, timeout: float = 2.0) -> None:
    """Close every pool, the Sentinel's own connections included, within a time bound."""
    closers = [clients.master.aclose()]
    if clients.replica is not None:
        closers.append(clients.replica.aclose())
    if clients.sentinel is not None:
        closers.append(clients.sentinel.aclose())
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*closers, return_exceptions=True)
    except TimeoutError:
        pass
