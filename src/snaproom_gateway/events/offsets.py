"""Consumer-group offsets, lag and resets: what `kafka-consumer-groups --describe` and
`--reset-offsets` do, plus the cluster summary of the admin route."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    CoordinatorLoadInProgressError,
    GroupCoordinatorNotAvailableError,
    NotCoordinatorForGroupError,
)
from aiokafka.structs import OffsetAndMetadata

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.topics import describe_topics
from snaproom_gateway.infra.kafka import client_options

ResetTarget = Literal["earliest", "latest", "timestamp"]
# Consumer groups whose committed offsets are asked for at once (one admin request each).
GROUP_QUERIES = 16


def kafka_group_id(settings: Settings, group: str) -> str:
    """The Kafka group id of a logical group: `<KAFKA_CONSUMER_GROUP_ID>.<group>`."""
    prefix = settings.kafka.consumer_group_id
    return group if group.startswith(prefix + ".") else f"{prefix}.{group}"


class OffsetReader:
    """A group-less consumer used only to read partition ends and offsets for times."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def consumer(self) -> AIOKafkaConsumer:
        async with self._lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None,
                                            enable_auto_commit=False)
                try:
                    async with asyncio.timeout(self.settings.kafka.request_timeout_ms / 1000 + 5):
                        await consumer.start()
                except BaseException:
                    await _bounded(consumer.stop(), self.settings.kafka.close_timeout)
                    raise
                self._consumer = consumer
            return self._consumer

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        return await (await self.consumer()).end_offsets(partitions)

    async def beginning_offsets(self, partitions: list[TopicPartition]
                                ) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        return await (await self.consumer()).beginning_offsets(partitions)

    async def offsets_for_time(self, partitions: list[TopicPartition], when: datetime
                               ) -> dict[TopicPartition, int]:
        consumer = await self.consumer()
        stamp = int(when.timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: stamp for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        # No message at or after the time: start at the end, as the Kafka tool does.
        return {tp: (found[tp].offset if found.get(tp) is not None else ends[tp])
                for tp in partitions}

    async def close(self) -> None:
        if self._consumer is not None:
            await _bounded(self._consumer.stop(), self.settings.kafka.close_timeout)
            self._consumer = None


async def _bounded(awaitable: Any, timeout: float) -> None:
    try:
        async with asyncio.timeout(timeout):
            await awaitable
    except Exception:  # closing: never hang or fail shutdown on a dead broker
        pass


async def _with_coordinator(call: Any, attempts: int = 10) -> Any:
    """Retry while the group coordinator is not available: on a fresh cluster the offsets
    topic is created by the first group request, and elections take a moment after restarts."""
    for attempt in range(attempts):
        try:
            return await call()
        except (GroupCoordinatorNotAvailableError, NotCoordinatorForGroupError,
                CoordinatorLoadInProgressError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)


async def partitions_of(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    described = await describe_topics(admin, topics)
    missing = [t["topic"] for t in described if t["error_code"] != 0]
    if missing:
        raise LookupError(f"unknown topic(s): {', '.join(missing)}")
    return [TopicPartition(t["topic"], p["partition"])
            for t in described for p in t["partitions"]]


async def group_offsets(admin: AIOKafkaAdminClient, reader: OffsetReader, group_id: str,
                        topics: list[str] | None = None) -> list[dict[str, Any]]:
    """Per partition: committed offset, end offset and lag of one Kafka consumer group."""
    committed = await _with_coordinator(lambda: admin.list_consumer_group_offsets(group_id))
    partitions = sorted(committed, key=lambda tp: (tp.topic, tp.partition))
    if topics:
        wanted = await partitions_of(admin, topics)
        partitions = sorted(wanted, key=lambda tp: (tp.topic, tp.partition))
    return _lag_rows(partitions, committed, await reader.end_offsets(partitions))


def _lag_rows(partitions: list[TopicPartition], committed: dict[TopicPartition, Any],
              ends: dict[TopicPartition, int]) -> list[dict[str, Any]]:
    rows = []
    for tp in partitions:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        end = ends.get(tp)
        lag = (end - offset) if end is not None and offset is not None else end
        rows.append({"topic": tp.topic, "partition": tp.partition, "committed": offset,
                     "end": end, "lag": lag})
    return rows


async def consumer_groups(admin: AIOKafkaAdminClient, reader: OffsetReader,
                          timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every consumer group with its partitions' committed offset, end offset and lag.

    The groups' offsets are asked for GROUP_QUERIES at a time and the end offsets once for
    all: one group after the other, 239 groups took longer than the admin routes' 10 s."""
    async with asyncio.timeout(timeout):
        listed = await admin.list_consumer_groups()
        group_ids = sorted({item[0] for item in listed})
        slots = asyncio.Semaphore(GROUP_QUERIES)

        async def committed_of(group_id: str) -> dict[TopicPartition, Any]:
            async with slots:
                return await _with_coordinator(
                    lambda: admin.list_consumer_group_offsets(group_id))
        committed = await asyncio.gather(*(committed_of(g) for g in group_ids))
        every = sorted({tp for offsets in committed for tp in offsets},
                       key=lambda tp: (tp.topic, tp.partition))
        ends = await reader.end_offsets(every) if every else {}
    groups = []
    for group_id, offsets in zip(group_ids, committed, strict=True):
        rows = _lag_rows(sorted(offsets, key=lambda tp: (tp.topic, tp.partition)), offsets, ends)
        groups.append({"group": group_id, "partitions": rows,
                       "lag": sum(r["lag"] or 0 for r in rows)})
    return groups


async def cluster_info(admin: AIOKafkaAdminClient, reader: OffsetReader,
                       timeout: float = 10.0) -> dict[str, Any]:
    """The cluster summary: brokers, controller, topics, consumer groups with lag."""
    async with asyncio.timeout(timeout):
        cluster = await admin.describe_cluster()
        topics = await describe_topics(admin)
        groups = await consumer_groups(admin, reader)
    return {
        "cluster_id": cluster.get("cluster_id"),
        "controller": cluster.get("controller_id"),
        "brokers": [{"id": b["node_id"], "host": b["host"], "port": b["port"], "rack": b["rack"]}
                    for b in sorted(cluster.get("brokers", []), key=lambda b: b["node_id"])],
        "topics": [{"topic": t["topic"], "partitions": len(t["partitions"]),
                    "replication": len(t["partitions"][0]["replicas"]) if t["partitions"] else 0,
                    "under_replicated": sum(len(p["isr"]) < len(p["replicas"])
                                            for p in t["partitions"])}
                   for t in topics],
        "consumer_groups": groups,
        "total_lag": sum(g["lag"] for g in groups),
    }


async def reset_offsets(settings: Settings, admin: AIOKafkaAdminClient, reader: OffsetReader,
                        group_id: str, topics: list[str], target: ResetTarget,
                        when: datetime | None = None) -> dict[TopicPartition, int]:
    """Commit new offsets for `group_id` on `topics`. The group must have no active members
    (as with kafka-consumer-groups --reset-offsets); raises RuntimeError otherwise."""
    partitions = await partitions_of(admin, topics)
    if target == "earliest":
        offsets = await reader.beginning_offsets(partitions)
    elif target == "latest":
        offsets = await reader.end_offsets(partitions)
    else:
        if when is None:
            raise ValueError("a timestamp is needed to reset to a time")
        offsets = await reader.offsets_for_time(partitions, when)
    described = await _with_coordinator(lambda: admin.describe_consumer_groups([group_id]))
    state = _group_state(described, group_id)
    if state not in (None, "", "Empty", "Dead"):
        raise RuntimeError(f"group {group_id} is {state}: stop its consumers before resetting "
                           "its offsets")
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=group_id,
                                enable_auto_commit=False)
    try:
        async with asyncio.timeout(settings.kafka.request_timeout_ms / 1000 + 10):
            await consumer.start()
            consumer.assign(partitions)
            await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset
                                   in offsets.items()})
    finally:
        await _bounded(consumer.stop(), settings.kafka.close_timeout)
    return offsets


def _group_state(described: list[Any], group_id: str) -> str | None:
    for response in described:
        for group in getattr(response, "groups", []):
            # (error_code, group_id, state, protocol_type, protocol, members[, ...])
            if group[1] == group_id:
                return group[2]
    return None
