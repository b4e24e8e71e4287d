"""Log lines: JSON objects (LOG_FORMAT=json, the production default) carrying the request id and
trace id of the request they were written for; secrets masked; console lines elsewhere."""

from __future__ import annotations

import logging

import orjson

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.observability.logging_setup import build_formatter
from tests.support.apps import running_app

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
# Production refuses to start without a cache encryption key: 32 bytes, base64.
PRODUCTION_CACHE_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


class Lines(logging.Handler):
    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.setFormatter(build_formatter(fmt))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _settings(tmp_path, **values) -> Settings:
    return Settings(_env_file=None, app_env="testing",
                    database_url=f"sqlite+aiosqlite:///{tmp_path}/log.db", **values)


async def test_a_line_written_while_serving_a_request_carries_its_request_and_trace_ids(tmp_path):
    lines = Lines("json")
    root = logging.getLogger()
    async with running_app(_settings(tmp_path)) as (app, client):
        @app.get("/_test/log")
        async def write_a_line() -> dict:
            logging.getLogger("snaproom_gateway.tests").warning("inside %s", "the request")
            return {}

        root.addHandler(lines)
        try:
            answer = await client.get("/_test/log", headers={
                "X-Request-ID": "req-123",
                "traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"})
            unrelated = await client.get("/_test/log")  # no traceparent: a trace is started
        finally:
            root.removeHandler(lines)
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-123"
    first, second = (orjson.loads(line) for line in lines.lines
                     if '"inside the request"' in line)
    assert first["message"] == "inside the request" and first["level"] == "warning"
    assert first["request_id"] == "req-123"
    assert first["trace_id"] == CALLER_TRACE
    assert first["span_id"] != "00f067aa0ba902b7"  # our own span in the caller's trace
    assert second["request_id"] == unrelated.headers["x-request-id"]
    assert len(second["trace_id"]) == 32 and second["trace_id"] != CALLER_TRACE


def test_secrets_never_reach_a_line():
    lines = Lines("json")
    log = logging.getLogger("snaproom_gateway.tests.secrets")
    log.addHandler(lines)
    try:
        log.warning("connect postgresql://gw:s3cr3t-pw@db:5432/app password=hunter2 "
                    "Authorization: Bearer tok-abc", extra={"token": "tok-xyz", "n": 1})
        try:
            raise ConnectionError("cannot reach postgresql://gw:in-trace-pw@db:5432/app")
        except ConnectionError:
            log.exception("database away")
    finally:
        log.removeHandler(lines)
    assert "in-trace-pw" not in lines.lines[1] and "gw:***@db" in lines.lines[1]
    text = lines.lines[0]
    for secret in ("s3cr3t-pw", "hunter2", "tok-abc", "tok-xyz"):
        assert secret not in text
    line = orjson.loads(text)
    assert line["token"] == "***" and line["n"] == 1
    assert "postgresql://gw:***@db:5432/app" in line["message"]


def test_console_lines_outside_production_and_json_in_production():
    assert Settings(_env_file=None).effective_log_format == "console"
    assert Settings(_env_file=None, app_env="production", secret_key="x" * 40,
                    cache_encryption_key=PRODUCTION_CACHE_KEY).effective_log_format == "json"
    assert Settings(_env_file=None, log_format="json").effective_log_format == "json"
    lines = Lines("console")
    log = logging.getLogger("snaproom_gateway.tests.console")
    log.addHandler(lines)
    try:
        log.info("plain words")
    finally:
        log.removeHandler(lines)
    assert "plain words" in lines.lines[0] and not lines.lines[0].startswith("{")
