"""OpenTelemetry on (an in-memory span exporter): one trace from the HTTP request through the
outbox insert and the relay's send to the consumer's handler; and off, nothing of it loaded."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.observability import tracing
from tests.apps import running_app
from tests.events_support import wait_for

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans():
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # once per process: OpenTelemetry's rule
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    tracing.disable()
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    for instrumentor in (RedisInstrumentor(), SQLAlchemyInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


async def test_one_trace_from_the_http_request_to_the_event_handler(tmp_path, spans):
    settings = Settings(_env_file=None, app_env="testing",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/otel.db",
                        otel_exporter_otlp_endpoint="http://127.0.0.1:9")  # the exporter above
    trace_id = uuid.uuid4().hex
    tag = uuid.uuid4().hex[:10]
    async with running_app(settings) as (_app, client):
        answer = await client.post(
            "/api/auth/signup",
            json={"email": f"{tag}@example.com", "username": f"t{tag}",
                  "password": "correct-horse-battery"},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        assert answer.status_code == 201, answer.text

        def processed():
            return [s for s in spans.get_finished_spans() if s.name == "user-events process"
                    and s.attributes.get("snaproom.event") == "user.created"]

        async def handled():
            return bool(processed())
        await wait_for(handled, 30)

    finished = spans.get_finished_spans()
    ours = [s for s in finished if format(s.context.trace_id, "032x") == trace_id]
    by_id = {s.context.span_id: s for s in ours}
    server = [s for s in ours if s.kind == trace.SpanKind.SERVER]
    assert server and server[0].parent.span_id == 0x00f067aa0ba902b7  # the caller's span

    handler = processed()[0]
    assert format(handler.context.trace_id, "032x") == trace_id
    assert handler.kind == trace.SpanKind.CONSUMER
    send = by_id[handler.parent.span_id]
    assert send.name == "user-events send" and send.kind == trace.SpanKind.PRODUCER
    assert [link.context.span_id for link in handler.links] == [send.context.span_id]
    insert = by_id[send.parent.span_id]
    assert insert.name == "outbox insert" and insert.attributes["snaproom.event"] == "user.created"
    # The insert happened inside the request: its ancestors lead to the server span.
    ancestor = insert
    while ancestor.parent is not None and ancestor.parent.span_id in by_id:
        ancestor = by_id[ancestor.parent.span_id]
    assert ancestor is server[0]
    assert any(s.attributes.get("db.system") == "sqlite" or
               s.attributes.get("db.system.name") == "sqlite" for s in ours)  # SQL spans too


def test_with_tracing_off_no_sdk_nor_instrumentation_is_loaded(tmp_path):
    """FastAPI imports opentelemetry-api (its native telemetry, idle without a provider) and
    redis-py the SDK's metrics when installed; the tracing SDK, the instrumentations, the
    exporter and our hooks stay out."""
    code = ("import sys\n"
            "from snaproom_gateway.api.app import create_app\n"
            "from snaproom_gateway.core.settings import Settings\n"
            f"create_app(Settings(_env_file=None, database_url='sqlite+aiosqlite:///{tmp_path}/x.db'))\n"
            "from snaproom_gateway.observability import tracecontext\n"
            "print(tracecontext.otel, sorted(m for m in sys.modules if m.startswith(\n"
            "    ('opentelemetry.sdk.trace', 'opentelemetry.instrumentation', 'opentelemetry.exporter',\n"
            "     'snaproom_gateway.observability.tracing'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "None []"
