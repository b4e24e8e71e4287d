"""A Sentinel connection pool that waits, bounded, for a free connection instead of failing.

redis-py's SentinelConnectionPool raises MaxConnectionsError the moment REDIS_MAX_CONNECTIONS are
in use; BlockingConnectionPool waits but knows no Sentinel. Together (MRO: Sentinel discovery,
then the blocking checkout) a burst queues for up to REDIS_POOL_TIMEOUT; after that it still
raises MaxConnectionsError, which the breakers count as load, not as Redis being down.
"""

from __future__ import annotations

from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    async def get_connection(self, command_name=None, *keys, **options):
        try:
            return await BlockingConnectionPool.get_connection(self)
        except RedisConnectionError as exc:
            # BlockingConnectionPool words its wait timeout as a plain ConnectionError, the
            # same class as a refused connect: name it for what it is.
            if isinstance(exc.__cause__, TimeoutError) and "No connection available" in str(exc):
                raise MaxConnectionsError(str(exc)) from exc
            raise
