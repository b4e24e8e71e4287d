"""The catalog and the envelope: names, topics, schemas and the reference envelope shape."""

from __future__ import annotations

import orjson
import pytest

from snaproom_gateway.events.catalog import (
    EventSchemaError,
    spec_for,
    topics_for_pattern,
    validate_data,
)
from snaproom_gateway.events.publisher import build_envelope
from snaproom_gateway.observability.request_context import request_id


@pytest.mark.parametrize(("name", "topic"), [
    ("user.created", "user-events"), ("user.restored", "user-events"),
    ("message.sent", "message-events"), ("connection.accepted", "connection-events"),
    ("notification.created", "notification-events"), ("audit.user.login", "audit-events"),
    ("system.breaker.opened", "system-events"), ("profile.viewed", "analytics-events"),
    ("USER_SIGNUP", "user-events"), ("PROFILE_VIEW", "analytics-events"),
])
def test_each_event_name_maps_to_its_topic(name, topic):
    assert spec_for(name).topic == topic


def test_unknown_event_is_a_schema_error():
    with pytest.raises(EventSchemaError, match="unknown event 'user.exploded'"):
        spec_for("user.exploded")
    with pytest.raises(EventSchemaError):
        spec_for("audit.")


def test_data_missing_a_required_field_is_rejected_with_the_field_named():
    with pytest.raises(EventSchemaError, match="username"):
        validate_data("user.created", {"email": "a@example.com"})


def test_notification_channel_must_be_known():
    with pytest.raises(EventSchemaError, match="channel"):
        validate_data("notification.created", {"channel": "pigeon", "kind": "x", "payload": {}})


def test_extra_fields_are_kept_so_producers_may_add():
    data = validate_data("user.created", {"email": "a@example.com", "username": "a", "plan": "pro"})
    assert data["plan"] == "pro"


def test_patterns_resolve_to_topics():
    assert topics_for_pattern("user.*") == {"user-events"}
    assert topics_for_pattern("audit.*") == {"audit-events"}
    assert topics_for_pattern("connection.accepted") == {"connection-events"}
    assert "system-events" in topics_for_pattern("*")


def test_envelope_keeps_the_reference_shape_and_adds_id_and_correlation():
    token = request_id.set("req-42")
    try:
        envelope = build_envelope("USER_SIGNUP", user_id=123,
                                  data={"email": "user@example.com", "username": "u"})
    finally:
        request_id.reset(token)
    body = orjson.loads(envelope.to_bytes())
    assert body["data"] == {"event": "user.created", "user_id": 123,
                            "data": {"email": "user@example.com", "username": "u"}}
    assert body["service"] == "snaproom-gateway" and body["version"]
    assert body["timestamp"].endswith("Z")
    assert body["correlation_id"] == "req-42"
    assert body["id"][14] == "7"  # UUID version 7: time-ordered


def test_envelope_ids_are_time_ordered():
    ids = [build_envelope("user.logout", user_id=1, data={}).id for _ in range(50)]
    assert ids == sorted(ids)
