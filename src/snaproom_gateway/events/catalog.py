"""The event catalog: every event name, the topic it goes to and the schema of its `data`.

Names are dotted lower case. `audit.*` is a family (audit.<action>); the upper-case names
(USER_SIGNUP, MESSAGE_SENT, ...) are accepted as aliases of ours. Schemas allow extra fields so
producers may add to an event without breaking its consumers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError


class EventSchemaError(ValueError):
    """An event that is not in the catalog, or whose data does not match its schema."""


class EventTooLargeError(EventSchemaError):
    """An envelope over MAX_EVENT_BYTES: no topic would take it."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class UserCreated(_Data):
    email: str
    username: str


class UserUpdated(_Data):
    fields: list[str]


class Empty(_Data):
    pass


class UserLogin(_Data):
    ip: str | None = None


class MessageSent(_Data):
    message_id: int | str
    from_user_id: int
    to_user_id: int
    text: str


class ConnectionChange(_Data):
    connection_id: int | str
    from_user_id: int
    to_user_id: int


class NotificationCreated(_Data):
    channel: Literal["in_app", "email", "push"]
    kind: str
    payload: dict[str, Any] = {}


class ProfileViewed(_Data):
    viewer_id: int | None
    profile_user_id: int


class ProfileViewsCounted(_Data):
    """One batch of profile views counted in process (analytics/views.py): {user id: views}."""

    views: dict[str, int]


class AuditData(_Data):
    action: str
    context: dict[str, Any] = {}


class BreakerChange(_Data):
    dependency: str
    failures: int | None = None
    reason: str | None = None


class FailoverSeen(_Data):
    dependency: str
    new_master: str


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int = 3
    purpose: str = ""


# Partitions / replication in production (replication is capped at the broker count).
TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec("user-events", 6, purpose="User lifecycle events"),
        TopicSpec("notification-events", 3, purpose="Real-time notifications"),
        TopicSpec("audit-events", 3, purpose="Compliance and security"),
        TopicSpec("system-events", 3, purpose="System monitoring"),
        TopicSpec("message-events", 3, purpose="Chat messages"),
        TopicSpec("connection-events", 3, purpose="Connection requests"),
        TopicSpec("analytics-events", 3, purpose="Analytics (profile views)"),
    )
}
DLQ_SUFFIX = ".dlq"
# Largest envelope a topic takes: under Kafka's default message.max.bytes (1,048,588) and the
# producer's max_request_size (1 MiB), with room for the key and the record's framing.
MAX_EVENT_BYTES = 1_000_000


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


@dataclass(frozen=True)
class EventSpec:
    name: str
    topic: str
    schema: type[BaseModel]


EVENTS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec("user.created", "user-events", UserCreated),
        EventSpec("user.updated", "user-events", UserUpdated),
        EventSpec("user.deleted", "user-events", Empty),
        EventSpec("user.login", "user-events", UserLogin),
        EventSpec("user.logout", "user-events", Empty),
        EventSpec("user.restored", "user-events", Empty),
        EventSpec("message.sent", "message-events", MessageSent),
        EventSpec("connection.requested", "connection-events", ConnectionChange),
        EventSpec("connection.accepted", "connection-events", ConnectionChange),
        EventSpec("connection.rejected", "connection-events", ConnectionChange),
        EventSpec("notification.created", "notification-events", NotificationCreated),
        EventSpec("profile.viewed", "analytics-events", ProfileViewed),
        EventSpec("profile.views_counted", "analytics-events", ProfileViewsCounted),
        EventSpec("system.breaker.opened", "system-events", BreakerChange),
        EventSpec("system.breaker.closed", "system-events", BreakerChange),
        EventSpec("system.failover.seen", "system-events", FailoverSeen),
    )
}
# Families: any name under the prefix, one schema and topic for all of them.
FAMILIES: dict[str, EventSpec] = {
    "audit.": EventSpec("audit.*", "audit-events", AuditData),
}
# Upper-case names older producers send, mapped onto ours.
ALIASES: dict[str, str] = {
    "USER_SIGNUP": "user.created",
    "USER_LOGIN": "user.login",
    "USER_LOGOUT": "user.logout",
    "MESSAGE_SENT": "message.sent",
    "CONNECTION_REQUEST": "connection.requested",
    "CONNECTION_ACCEPTED": "connection.accepted",
    "CONNECTION_REJECTED": "connection.rejected",
    "PROFILE_VIEW": "profile.viewed",
}


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def spec_for(name: str) -> EventSpec:
    """The catalog entry of an event name (aliases resolved). Raises EventSchemaError."""
    name = canonical_name(name)
    spec = EVENTS.get(name)
    if spec is not None:
        return spec
    for prefix, family in FAMILIES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return family
    raise EventSchemaError(f"unknown event {name!r}: not in the catalog (events/catalog.py)")


def validate_data(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check `data` against the event's schema; return it as JSON-ready values."""
    spec = spec_for(name)
    try:
        model = spec.schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(data)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise EventSchemaError(f"event {canonical_name(name)!r} has bad data: {problems}") from None
    return model.model_dump(mode="json")


def matches(pattern: str, name: str) -> bool:
    """`user.created` matches itself; `user.*` matches every name under `user.`; `*` all."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def topics_for_pattern(pattern: str) -> set[str]:
    """The topics on which events matching `pattern` travel."""
    if pattern == "*":
        return set(TOPICS)
    found = {spec.topic for name, spec in EVENTS.items() if matches(pattern, name)}
    for prefix, family in FAMILIES.items():
        if matches(pattern, prefix + "x") or pattern.startswith(prefix):
            found.add(family.topic)
    return found
