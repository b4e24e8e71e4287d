"""The relay's Kafka sink when the producer cannot take rows within its time bound (no broker)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from snaproom_gateway.events.kafka_sink import KafkaSink, PendingDelivery
from snaproom_gateway.events.outbox import OutboxRow


class _StuckProducer:
    """Takes the first batch, then never takes another (its queue for the partition is full)."""

    def __init__(self) -> None:
        self.first = asyncio.get_running_loop().create_future()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self):
        return SimpleNamespace(count=0, append=self._append, size=lambda: 2)

    def _append(self, **_: object):
        return object()

    async def send_batch(self, batch, topic: str, partition: int):
        if not self.first.done():
            self.first.set_result(None)
            return asyncio.get_running_loop().create_future()  # never acknowledged
        await asyncio.Event().wait()  # blocks until the sink's time bound


async def test_rows_the_producer_never_took_fail_and_are_not_counted_as_sent(embedded_settings):
    embedded_settings.kafka.request_timeout_ms = 500
    producer = _StuckProducer()
    sink = KafkaSink(SimpleNamespace(producer=producer, admin=None), embedded_settings)
    sink._batches = lambda producer, rows, indices, limit: iter(
        [([i], producer.create_batch()) for i in indices])
    rows = [OutboxRow(seq, f"e{seq}", "user-events", "1", b"{}") for seq in (1, 2)]

    results = await sink.send(rows)

    assert isinstance(results[0], PendingDelivery)  # taken: still held, never resent
    assert isinstance(results[1], TimeoutError)  # never taken: stays pending in the outbox
