"""Counters of the event backbone, by topic (and group for consumers)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter

from snaproom_gateway.metrics.core import REGISTRY

PUBLISHED = Counter("snaproom_events_published", "Events acknowledged by Kafka (or handed to "
                    "the in-process bus) by the outbox relay", ["topic"], registry=REGISTRY)
CONSUMED = Counter("snaproom_events_consumed", "Events handled by a consumer group",
                   ["group", "topic"], registry=REGISTRY)
RETRIED = Counter("snaproom_events_retried", "Handler failures retried", ["topic"],
                  registry=REGISTRY)
DEAD_LETTERED = Counter("snaproom_events_dead_lettered", "Events sent to <topic>.dlq (poison "
                        "messages, handlers failing every retry, outbox rows Kafka refuses)",
                        ["topic"], registry=REGISTRY)


def published(topics: Iterable[str]) -> None:
    """One call per relay round: the topics of its acknowledged rows."""
    for topic, count in Tally(topics).items():
        PUBLISHED.labels(topic).inc(count)


def consumed(group: str, deliveries: Iterable[Any]) -> None:
    for topic, count in Tally(d.topic for d in deliveries).items():
        CONSUMED.labels(group, topic).inc(count)


def retried(topic: str) -> None:
    RETRIED.labels(topic).inc()


def dead_lettered(topic: str) -> None:
    DEAD_LETTERED.labels(topic).inc()
