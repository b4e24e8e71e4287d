"""What leaves the gateway on the real stack holds no secret, and Redis holds no personal data in
the clear: one full flow (tests/security_flow.py), then every Redis key and value, every log line,
every answer and every record of every topic (read by kcat, a real consumer) are searched."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from snaproom_gateway.events.catalog import TOPICS, dlq_topic
from tests.support.domain_stack import migrate, stack_settings
from tests.support.security_flow import (
    KAFKA_GATEWAY,
    FlowRecord,
    gateway_topics,
    random_key,
    run_full_flow,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flow(stack) -> FlowRecord:
    # Through the brokers' SASL_SSL listener, so the Kafka password is one of the secrets.
    stack.secure_kafka((*KAFKA_GATEWAY, "snaproom-gateway", gateway_topics()))
    settings = stack_settings(stack.secure_kafka_env(*KAFKA_GATEWAY), log_level="debug",
                              secret_key=f"sk-{random_key()}", cache_encryption_key=random_key(),
                              outbox_backoff_max=2.0)
    asyncio.run(migrate(settings))
    wrong_kafka = settings.with_changes(**{
        "kafka_sasl_password": f"kafka-pw-{random_key()}", "events_consumers_enabled": False})
    return asyncio.run(run_full_flow(settings, wrong_kafka))


def found_in(haystack: bytes, values: dict[str, str]) -> list[str]:
    return [name for name, value in values.items() if value and value.encode() in haystack]


def test_redis_holds_neither_email_nor_token_nor_message_text_after_a_full_flow(flow):
    keys = [key for key, _ in flow.redis_items]
    # The flow's entries are there (sealed), so the search below is not over an empty Redis.
    assert any(key.startswith(b"snaproom:v1:session:") for key in keys)
    assert any(key.startswith(b"snaproom:v1:conversation:") for key in keys)
    assert any(key.startswith(b"snaproom:v1:user:") for key in keys)
    looked_for = flow.personal | {k: v for k, v in flow.secrets.items() if k.startswith("token_")}
    leaks = {key: found_in(key + b"\n" + value, looked_for)
             for key, value in flow.redis_items}
    assert {key: names for key, names in leaks.items() if names} == {}


def test_no_secret_in_any_log_line_at_any_level(flow):
    assert len(flow.log_lines) > 50  # DEBUG of every logger was on
    assert any("SASL authentication failed" in line for line in flow.log_lines)  # bad password
    leaks = [(names, line) for line in flow.log_lines
             if (names := found_in(line.encode(), flow.secrets))]
    assert leaks == []


def test_no_secret_in_any_answer_except_the_token_given_to_its_owner(flow):
    leaks = []
    for what, status, body in flow.answers:
        names = found_in(body, flow.secrets)
        if what in ("signup", "login", "login bob") and status in (200, 201):
            names = [n for n in names if not n.startswith("token_")]  # the answer is the token
        if names:
            leaks.append((what, status, names))
    assert leaks == []
    refused = [(what, status) for what, status, _ in flow.answers if status == 422]
    assert len(refused) == 5  # the too-short and too-long passwords were answered, redacted


def test_no_secret_in_any_record_of_any_topic_read_by_kcat(flow, stack):
    brokers = stack.env()["KAFKA_BROKERS"]  # kcat reads through the PLAINTEXT listener
    topics = [name for spec in TOPICS.values() for name in (spec.name, dlq_topic(spec.name))]
    seen = b""
    for topic in topics:
        done = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning",
                               "-e", "-q", "-f", "%k\t%h\t%s\n"],
                              capture_output=True, timeout=120)
        assert done.returncode == 0 or b"Unknown topic" in done.stderr, done.stderr
        seen += done.stdout
    # The flow's events are there: the signups carry the (personal, not secret) email.
    assert flow.personal["alice_email"].encode() in seen
    assert found_in(seen, flow.secrets) == []
