"""Kafka: one aiokafka producer and one admin client per process, connected in the background.

`start()` never waits for the brokers: a supervisor task connects, and reconnects with backoff,
so the app starts and reports itself degraded while Kafka is away. aiokafka's `stop()` and
`send_and_wait()` can hang when brokers are gone (aio-libs/aiokafka#1101, #659), so every close
here is bounded with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import SaslAuthenticationFailed

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.waiting import wait_set

log = logging.getLogger(__name__)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by producer, admin and consumers (SASL/SSL included)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.brokers,
        "client_id": settings.kafka.client_id,
        "request_timeout_ms": settings.kafka.request_timeout_ms,
        "security_protocol": settings.kafka.security_protocol,
    }
    if settings.kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=settings.kafka.ssl_cafile)
    if settings.kafka.security_protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=settings.kafka.sasl_mechanism,
            sasl_plain_username=settings.kafka.sasl_username,
            sasl_plain_password=settings.kafka.sasl_password,
        )
    return options


def describe_failure(exc: BaseException, settings: Settings) -> str:
    """One line a person can act on: what failed and which setting to check. Never a secret."""
    if isinstance(exc, SaslAuthenticationFailed):
        return (f"SASL authentication failed for user {settings.kafka.sasl_username!r} "
                f"({settings.kafka.sasl_mechanism}): check KAFKA_SASL_USERNAME and "
                f"KAFKA_SASL_PASSWORD")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"the brokers' TLS certificate is not trusted ({exc.verify_message}): check "
                f"KAFKA_SSL_CAFILE")
    if isinstance(exc, ssl.SSLError):
        return (f"TLS handshake with the brokers failed ({exc.reason or exc}): check "
                f"KAFKA_SECURITY_PROTOCOL and that KAFKA_BROKERS are TLS listeners")
    if isinstance(exc, OSError | TimeoutError):
        return f"no broker answers at {','.join(settings.kafka.brokers)} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


async def diagnose(settings: Settings) -> str | None:
    """Why no broker takes a client: aiokafka's bootstrap error names none ("Unable to
    bootstrap"), so one plain connection per broker, with the same TLS and SASL, tells it.
    None when a broker accepts it (the failure was elsewhere)."""
    options = client_options(settings)
    failure: BaseException | None = None
    for item in settings.kafka.brokers:
        host, _, port = item.rpartition(":")
        try:
            async with asyncio.timeout(settings.kafka.request_timeout_ms / 1000):
                conn = await create_conn(
                    host, int(port), client_id=settings.kafka.client_id,
                    request_timeout_ms=settings.kafka.request_timeout_ms,
                    ssl_context=options.get("ssl_context"),
                    security_protocol=settings.kafka.security_protocol,
                    sasl_mechanism=options.get("sasl_mechanism"),
                    sasl_plain_username=options.get("sasl_plain_username"),
                    sasl_plain_password=options.get("sasl_plain_password"))
        except Exception as exc:
            failure = exc
            continue
        conn.close()
        return None
    return None if failure is None else describe_failure(failure, settings)


def producer_options(settings: Settings) -> dict[str, Any]:
    # acks=all with idempotence: a retried send is never written twice, and a write is on
    # min.insync.replicas brokers before it counts as sent. No linger: the relay hands over
    # whole batches per partition (send_batch), so waiting for more would only add latency.
    return client_options(settings) | {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 0,
        "max_batch_size": 256 * 1024,
        "compression_type": None,
    }


class KafkaConnection:
    """The producer and admin client, with a background task that keeps them connected."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.admin: AIOKafkaAdminClient | None = None
        self.connected = asyncio.Event()
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    async def _start(self, *clients: Any) -> None:
        """Start the clients within the request bound; on any failure stop them all."""
        try:
            async with asyncio.timeout(self.settings.kafka.request_timeout_ms / 1000 + 5):
                for client in clients:
                    await client.start()
        except BaseException:
            for client in clients:
                await _bounded(client.stop() if isinstance(client, AIOKafkaProducer)
                               else client.close(), self.settings.kafka.close_timeout)
            raise

    async def _connect_once(self) -> None:
        producer = AIOKafkaProducer(**producer_options(self.settings))
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        await self._start(producer, admin)
        self.producer, self.admin = producer, admin

    async def renew_producer(self) -> None:
        """Replace the producer with a new one (a new producer id, fresh sequence numbers).

        Once the brokers refuse a batch for good, the idempotent producer is out of step: it
        numbered the refused batch, so every later batch to that partition fails with
        OutOfOrderSequenceNumber (aiokafka does not reset the producer id as the Java client
        does). Raises when Kafka cannot be reached; the old producer stays until then."""
        producer = AIOKafkaProducer(**producer_options(self.settings))
        await self._start(producer)
        old, self.producer = self.producer, producer
        if old is not None:
            await _bounded(old.stop(), self.settings.kafka.close_timeout)
        log.warning("kafka producer renewed after a refused batch")

    async def _connect_forever(self) -> None:
        delay = 0.5
        reported: str | None = None
        while self.producer is None:
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any bootstrap failure: retry with backoff
                cause = await diagnose(self.settings) if "bootstrap" in str(exc) else None
                self.last_error = cause or describe_failure(exc, self.settings)
                # One line per cause, not one per retry: a wrong password is said once, clearly.
                log.log(logging.WARNING if self.last_error != reported else logging.DEBUG,
                        "kafka not connected: %s; retrying in the background (writes wait in "
                        "the outbox)", self.last_error)
                reported = self.last_error
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            else:
                self.last_error = None
                self.connected.set()
                log.info("kafka connected: %s", ",".join(self.settings.kafka.brokers))

    async def wait_connected(self, timeout: float) -> bool:
        return await wait_set(self.connected, timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        timeout = self.settings.kafka.close_timeout
        if self.producer is not None:
            await _bounded(self.producer.stop(), timeout)
        if self.admin is not None:
            await _bounded(self.admin.close(), timeout)
        self.producer = self.admin = None
        self.connected.clear()


async def send_dead_letter(producer: AIOKafkaProducer, topic: str, value: bytes, *,
                           key: bytes | None, error: str, source_topic: str,
                           timeout: float, headers: Sequence[tuple[str, bytes]] = ()) -> None:
    """One dead letter (the consumers' and the relay's): the error and the source topic also
    ride as headers, so tools can filter without parsing the value. `headers`: the source
    message's own (its traceparent and correlation_id), kept."""
    async with asyncio.timeout(timeout):
        await producer.send_and_wait(topic, value, key=key, headers=[
            *headers, ("error", error[:500].encode()), ("source-topic", source_topic.encode())])


async def _bounded(awaitable: Any, timeout: float) -> None:
    try:
        async with asyncio.timeout(timeout):
            await awaitable
    except (TimeoutError, Exception) as exc:  # closing: log and go on, never hang shutdown
        log.warning("kafka client close did not finish cleanly: %r", exc)


async def describe_cluster(connection: KafkaConnection, timeout: float) -> dict[str, Any]:
    """Brokers and controller as the cluster reports them now. Raises when Kafka is away."""
    if connection.admin is None:
        raise ConnectionError(connection.last_error or "kafka is not connected yet")
    started = time.perf_counter()
    async with asyncio.timeout(timeout):
        cluster = await connection.admin.describe_cluster()
    brokers = cluster.get("brokers", [])
    return {
        "brokers": len(brokers),
        "broker_ids": sorted(b["node_id"] for b in brokers),
        "controller": cluster.get("controller_id"),
        "response_time": f"{(time.perf_counter() - started) * 1000:.0f}ms",
    }
