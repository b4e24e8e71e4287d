"""Topic creation and description. Broker auto-creation is never relied on: the gateway creates
the catalog's topics (and their `.dlq` twins) with their partition counts on start."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.catalog import TOPICS, dlq_topic

log = logging.getLogger(__name__)
_TOPIC_EXISTS = 36
_TOPIC_AUTHORIZATION_FAILED = 29


class TopicsNotAuthorized(RuntimeError):
    """The principal may not see or create these topics (Kafka ACLs)."""

    def __init__(self, topics: list[str]) -> None:
        super().__init__("not authorized for topics " + ", ".join(topics)
                         + " (no ACL for KAFKA_SASL_USERNAME)")
        self.topics = topics


def wanted_topics(settings: Settings, brokers: int) -> dict[str, tuple[int, int]]:
    """topic -> (partitions, replication factor); replication is min(configured, brokers)."""
    wanted: dict[str, tuple[int, int]] = {}
    for spec in TOPICS.values():
        replication = max(1, min(spec.replication, settings.kafka.replication_factor, brokers))
        wanted[spec.name] = (spec.partitions, replication)
        wanted[dlq_topic(spec.name)] = (1, replication)
    return wanted


async def ensure_topics(admin: AIOKafkaAdminClient, settings: Settings,
                        timeout: float = 30.0) -> dict[str, str]:
    """Create the missing topics; return {topic: "created" | "exists"}. Raises on other errors."""
    async with asyncio.timeout(timeout):
        cluster = await admin.describe_cluster()
        brokers = len(cluster.get("brokers", [])) or 1
        existing = set(await admin.list_topics())
        wanted = wanted_topics(settings, brokers)
        missing = [NewTopic(name, partitions, replication)
                   for name, (partitions, replication) in wanted.items() if name not in existing]
        result = {name: "exists" for name in wanted if name in existing}
        if missing:
            response = await admin.create_topics(missing, timeout_ms=int(timeout * 1000))
            errors, denied = [], []
            for topic, code, message in response.topic_errors:
                if code in (0, _TOPIC_EXISTS):
                    result[topic] = "created" if code == 0 else "exists"
                elif code == _TOPIC_AUTHORIZATION_FAILED:
                    denied.append(topic)  # hidden from list_topics too: an ACL, not a bug
                else:
                    errors.append(f"{topic}: error {code} {message or ''}".strip())
            if denied and not errors:
                raise TopicsNotAuthorized(denied)
            if errors or denied:
                errors += [f"{topic}: not authorized" for topic in denied]
                raise RuntimeError("cannot create topics: " + "; ".join(errors))
            log.info("kafka topics created: %s",
                     ", ".join(t for t, v in result.items() if v == "created"))
    return result


async def describe_topics(admin: AIOKafkaAdminClient, topics: list[str] | None = None,
                          timeout: float = 10.0) -> list[dict[str, Any]]:
    """Each topic with its partitions: leader, replicas and in-sync replicas."""
    async with asyncio.timeout(timeout):
        names = topics or sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        described = await admin.describe_topics(names) if names else []
    out = []
    for item in sorted(described, key=lambda t: t["topic"]):
        partitions = sorted(item["partitions"], key=lambda p: p["partition"])
        out.append({
            "topic": item["topic"],
            "error_code": item["error_code"],
            "partitions": [
                {"partition": p["partition"], "leader": p["leader"],
                 "replicas": list(p["replicas"]), "isr": list(p["isr"])}
                for p in partitions
            ],
        })
    return out
