"""OpenTelemetry, optional and off by default: on when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Nothing of OpenTelemetry is imported unless it is on (this module imports it inside its
functions, and app.py imports this module only then), so off it costs nothing.

On, one trace follows a request through the system:

    HTTP request (FastAPI instrumentation, SERVER)
      └ outbox insert (publish(): the row stores this span's traceparent)
          └ <topic> send (the relay, PRODUCER: its context is the Kafka `traceparent` header)
              └ <topic> process (the consumer, CONSUMER: child of the send, and linked to it,
                as the OpenTelemetry messaging conventions describe), the handler's own SQL...

plus SQLAlchemy and redis client spans. aiokafka's own instrumentation is not used: the relay
sends producer batches (`send_batch`), which it does not see, and it would add a second
`traceparent` header to the dead letters, which already keep the source message's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from snaproom_gateway import SERVICE_NAME, __version__
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.observability import tracecontext

log = logging.getLogger(__name__)
MESSAGING_SYSTEM = "kafka"


class OtelHooks:
    """What tracecontext.py calls while OpenTelemetry is on."""

    def __init__(self, tracer_provider: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.trace = trace
        self.tracer = tracer_provider.get_tracer("snaproom_gateway", __version__)
        self.propagator = TraceContextTextMapPropagator()

    def current(self) -> tracecontext.TraceParent | None:
        return self._of(self.trace.get_current_span().get_span_context())

    @staticmethod
    def _of(context: Any) -> tracecontext.TraceParent | None:
        if not context.is_valid:
            return None
        return tracecontext.TraceParent(format(context.trace_id, "032x"),
                                        format(context.span_id, "016x"),
                                        format(int(context.trace_flags), "02x"))

    def _parent(self, traceparent: str | bytes | None) -> Any:
        if isinstance(traceparent, bytes):
            traceparent = traceparent.decode("latin-1")
        return self.propagator.extract({"traceparent": traceparent}) if traceparent else None

    def publish_header(self, event: str) -> str | None:
        with self.tracer.start_as_current_span(
                "outbox insert", kind=self.trace.SpanKind.PRODUCER,
                attributes={"messaging.system": MESSAGING_SYSTEM,
                            "messaging.operation.type": "create",
                            "snaproom.event": event}) as span:
            found = self._of(span.get_span_context())
        return found.header() if found is not None else tracecontext.current_header()

    def start_sends(self, rows: list[Any]) -> tuple[list[Any], list[Any]]:
        """One PRODUCER span per row, child of the row's stored context; the rows returned
        carry that span's context as their traceparent (the Kafka header)."""
        spans, sent = [], []
        for row in rows:
            span = self.tracer.start_span(
                f"{row.topic} send", context=self._parent(row.traceparent),
                kind=self.trace.SpanKind.PRODUCER,
                attributes={"messaging.system": MESSAGING_SYSTEM,
                            "messaging.operation.type": "send",
                            "messaging.destination.name": row.topic,
                            "messaging.message.id": row.event_id,
                            "snaproom.outbox.seq": row.seq})
            own = self._of(span.get_span_context())
            spans.append(span)
            sent.append(replace(row, traceparent=own.header()) if own is not None else row)
        return spans, sent

    def end_sends(self, spans: list[Any], results: list[BaseException | None]) -> None:
        from opentelemetry.trace import Status, StatusCode

        for span, error in zip(spans, results, strict=False):
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()

    @contextlib.contextmanager
    def consumer_scope(self, traceparent: bytes | None, topic: str, group: str,
                       attributes: dict[str, Any]) -> Iterator[None]:
        parent = self._parent(traceparent)
        links = []
        if parent is not None:
            producer = self.trace.get_current_span(parent).get_span_context()
            if producer.is_valid:
                links.append(self.trace.Link(producer))
        values = {"messaging.system": MESSAGING_SYSTEM, "messaging.operation.type": "process",
                  "messaging.destination.name": topic, "messaging.consumer.group.name": group,
                  "messaging.message.id": attributes.get("event_id"),
                  "messaging.destination.partition.id": attributes.get("partition"),
                  "messaging.kafka.offset": attributes.get("offset"),
                  "snaproom.event": attributes.get("event_name")}
        with self.tracer.start_as_current_span(
                f"{topic} process", context=parent, kind=self.trace.SpanKind.CONSUMER,
                links=links, attributes={k: v for k, v in values.items() if v is not None}):
            yield


def configure(settings: Settings) -> Any:
    """The tracer provider (made once per process, exporting over OTLP/HTTP; one a test or an
    embedding program set before is kept), and the hooks switched on."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create(
            {"service.name": settings.observability.otel_service_name,
             "service.version": __version__}))
        endpoint = settings.observability.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        trace.set_tracer_provider(provider)
        log.info("OpenTelemetry: exporting spans to %s as %s", endpoint,
                 settings.observability.otel_service_name or SERVICE_NAME)
    tracecontext.otel = OtelHooks(provider)
    return provider


def instrument_app(app: Any, settings: Settings) -> None:
    """HTTP server spans for the app, and client spans for redis (its classes, process-wide)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    provider = configure(settings)
    # No spans for each ASGI receive/send message: three or four per request, saying little.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider,
                                       excluded_urls="/metrics,/api/health/live",
                                       exclude_spans=["receive", "send"])
    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument(tracer_provider=provider)


def instrument_engine(engine: Any) -> None:
    """SQL spans of the app's engine (one per process; a later app's engine replaces it)."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    # skip_dep_check: the instrumentation declares "sqlalchemy < 2.1"; its engine events work
    # on 2.1 (tests/unit/test_tracing_otel.py sees the SQL spans).
    instrumentor.instrument(engine=engine.sync_engine, skip_dep_check=True)


def disable() -> None:
    """Switch the hooks off (tests); spans already made are kept by their processor."""
    tracecontext.otel = None
