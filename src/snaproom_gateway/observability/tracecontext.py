"""W3C trace context (https://www.w3.org/TR/trace-context/) without OpenTelemetry.

Every request and every handled event runs in a trace: an incoming `traceparent` is honoured, one
is started when absent. The current one lives in a ContextVar, so log lines carry its trace id and
an event published meanwhile stores it with its outbox row (the relay sends it as a Kafka header,
consumers continue it). When OpenTelemetry is on (tracing.py) its spans take over: `current()`
then answers from the active span, and this module only parses and formats headers.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, NamedTuple

TRACEPARENT = "traceparent"
_TRACEPARENT_RE = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class TraceParent(NamedTuple):
    trace_id: str  # 32 lower-case hex digits
    span_id: str  # 16 lower-case hex digits: the span this context names as parent
    flags: str = "01"  # sampled

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceParent:
        """A new span of the same trace (a request or a handled event of our own)."""
        return TraceParent(self.trace_id, new_span_id(), self.flags)


current_trace: ContextVar[TraceParent | None] = ContextVar("current_trace", default=None)

# Set by tracing.configure() when OpenTelemetry is on (tracing.OtelHooks): spans take over.
# None otherwise, and then nothing of OpenTelemetry is imported or called.
otel: Any = None


def new_span_id() -> str:
    return os.urandom(8).hex()


def new_trace() -> TraceParent:
    return TraceParent(os.urandom(16).hex(), new_span_id(), "01")


def parse(value: str | bytes | None) -> TraceParent | None:
    """The context of a `traceparent` header, or None when absent or malformed (then the
    receiver starts a new trace, as the W3C spec says)."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    match = _TRACEPARENT_RE.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE \
            or span_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, span_id, flags)


def continue_from(value: str | bytes | None) -> TraceParent:
    """Our own span in the caller's trace, or in a new trace when the caller sent none."""
    parent = parse(value)
    return parent.child() if parent is not None else new_trace()


def current() -> TraceParent | None:
    """The trace context of what runs now (OpenTelemetry's active span when tracing is on)."""
    if otel is not None:
        found = otel.current()
        if found is not None:
            return found
    return current_trace.get()


def current_header() -> str | None:
    trace = current()
    return trace.header() if trace is not None else None


def publish_header(event: str) -> str | None:
    """The traceparent an outbox row stores: the current one, or with OpenTelemetry the
    context of an `outbox insert` span, child of the current span."""
    if otel is not None:
        return otel.publish_header(event)
    return current_header()


@contextlib.contextmanager
def consumer_scope(traceparent: bytes | None, topic: str, group: str,
                   attributes: dict[str, Any]) -> Iterator[None]:
    """Handling a message: continue the producer's trace (a new span of ours in it); with
    OpenTelemetry a CONSUMER `process` span, child of the producer's and linked to it."""
    if otel is not None:
        with otel.consumer_scope(traceparent, topic, group, attributes):
            yield
        return
    token = current_trace.set(continue_from(traceparent))
    try:
        yield
    finally:
        current_trace.reset(token)
