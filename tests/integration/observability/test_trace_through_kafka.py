"""One request followed through the system: its W3C trace context and request id ride with the
outbox row into Kafka headers (read back with kcat, a real Kafka client), a consumer's JSON log
line names the event and that trace, and a dead letter keeps the headers."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from snaproom_gateway.events.commands import topics_ensure
from snaproom_gateway.observability.logging_setup import build_formatter
from tests.support.apps import extra_subscribers, running_app
from tests.support.events_support import group_at_end, topic_ends, wait_for

pytestmark = pytest.mark.integration

TRACE_ID = uuid.uuid4().hex
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class JsonLines(logging.Handler):
    """The lines the gateway's JSON formatter writes, kept for the test."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(build_formatter("json"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


def kcat_records(brokers: list[str], topic: str, start: dict[int, int]) -> list[dict]:
    """Records after `start` with their headers, read by kcat (librdkafka)."""
    assert shutil.which("kcat"), "kcat missing: deploy/local/stack.py install brings it"
    found = []
    for partition, offset in start.items():
        out = subprocess.run(
            ["kcat", "-C", "-b", ",".join(brokers), "-t", topic, "-p", str(partition),
             "-o", str(offset), "-e", "-q", "-f", "%h\t%s\n"],
            capture_output=True, check=True, timeout=60).stdout
        for line in out.splitlines():
            headers, _, value = line.partition(b"\t")
            pairs = dict(h.split(b"=", 1) for h in headers.split(b",") if b"=" in h)
            found.append({"headers": {k.decode(): v.decode() for k, v in pairs.items()},
                          "value": value})
    return found


@pytest.fixture
def observed_group():
    group = f"it-observe-{uuid.uuid4().hex[:8]}"
    log = logging.getLogger("snaproom_gateway.tests.observe")

    async def observe(envelope, ctx) -> None:
        log.info("observed %s", envelope.event)

    observe.__qualname__ = f"observe_{group}"
    extra_subscribers.subscriber("user.*", group=group)(observe)
    yield group
    extra_subscribers.remove(observe)


async def test_a_requests_trace_reaches_kafka_headers_and_the_consumers_log(clean_db,
                                                                              observed_group):
    settings = clean_db.with_changes(**{"log_level": "info"})
    await topics_ensure(settings)  # a fresh cluster has none yet
    await group_at_end(settings, observed_group, ["user-events"])
    start = await topic_ends(settings.kafka.brokers, "user-events")
    dlq_start = await topic_ends(settings.kafka.brokers, "user-events.dlq")
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    lines = JsonLines()
    root = logging.getLogger()
    async with running_app(settings) as (app, client):
        root.addHandler(lines)
        try:
            tag = uuid.uuid4().hex[:10]
            answer = await client.post(
                "/api/auth/signup",
                json={"email": f"{tag}@example.com", "username": f"t{tag}",
                      "password": "correct-horse-battery"},
                headers={"traceparent": TRACEPARENT, "X-Request-ID": request_id})
            assert answer.status_code == 201, answer.text

            def handled() -> list[dict]:
                return [line for line in lines.lines
                        if line.get("message") == "observed user.created"
                        and line.get("group") == observed_group]

            async def seen():
                return bool(handled())
            await wait_for(seen, 60)

            # A poison message with the same headers: its dead letter keeps them.
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.brokers)
            await producer.start()
            try:
                await producer.send_and_wait(
                    "user-events", f"not json {tag}".encode(), key=b"1",
                    headers=[("traceparent", TRACEPARENT.encode()),
                             ("correlation_id", request_id.encode())])
            finally:
                await producer.stop()

            async def dead_lettered():
                ends = await topic_ends(settings.kafka.brokers, "user-events.dlq")
                return ends != dlq_start
            await wait_for(dead_lettered, 60)
        finally:
            root.removeHandler(lines)

    records = await asyncio.to_thread(kcat_records, settings.kafka.brokers, "user-events", start)
    created = [r for r in records if b'"user.created"' in r["value"] and tag.encode() in r["value"]]
    assert len(created) == 1
    headers = created[0]["headers"]
    assert headers["traceparent"].split("-")[1] == TRACE_ID
    assert headers["correlation_id"] == request_id
    envelope = orjson.loads(created[0]["value"])

    line = handled()[0]
    assert line["trace_id"] == TRACE_ID
    assert line["request_id"] == request_id  # the request that caused the event
    assert line["event_id"] == envelope["id"]
    assert line["event_name"] == "user.created"
    assert line["topic"] == "user-events"
    assert isinstance(line["partition"], int) and isinstance(line["offset"], int)
    assert line["level"] == "info" and line["logger"] == "snaproom_gateway.tests.observe"

    dead = await asyncio.to_thread(kcat_records, settings.kafka.brokers, "user-events.dlq",
                                   dlq_start)
    ours = [r for r in dead if tag.encode() in r["value"]]
    assert ours, "the poison message was not dead-lettered"
    assert all(r["headers"]["traceparent"] == TRACEPARENT for r in ours)
    assert all(r["headers"]["correlation_id"] == request_id for r in ours)
    assert all(r["headers"]["source-topic"] == "user-events" for r in ours)
