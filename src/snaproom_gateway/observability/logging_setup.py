"""Process-wide logging: one JSON object per line (LOG_FORMAT=json, the default in production) or
readable console lines, for our loggers, uvicorn's and every library's alike.

The code logs through the standard library (`logging.getLogger(__name__)`); structlog's
ProcessorFormatter renders every record. Each line carries what the work is about, read from
context variables (request_context.py, tracecontext.py): the request id and trace id while a
request is served; the event id, topic, partition, offset, group and the causing request's trace
and correlation ids while a consumer handles an event. Values that look like secrets are masked.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

import orjson
import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.typing import EventDict

from snaproom_gateway.observability import tracecontext
from snaproom_gateway.observability.request_context import event_context, request_id

CONSOLE_FORMAT = "console"
JSON_FORMAT = "json"

# Keys whose values never reach a log line, and the same inside a message's text
# (`password=...`, `?token=...`, `Authorization: Bearer ...`, `postgresql://user:pass@`).
_SECRET_KEYS = {"password", "passwd", "secret", "secret_key", "token", "authorization",
                "cookie", "set-cookie", "api_key", "sasl_plain_password", "metrics_token"}
_SECRET_TEXT = re.compile(
    r"(?i)((?:password|passwd|secret|token|api_key|authorization)[\"']?\s*[=:]\s*[\"']?"
    r"(?:bearer\s+)?)[^\s&\"',;]+"
    r"|(?<=://)([^/\s:@]+):[^/\s@]+(?=@)")
_MASK = "***"


def _mask_text(text: str) -> str:
    if not any(hint in text.lower() for hint in ("pass", "secret", "token", "auth", "key", "@")):
        return text  # the common case: nothing to scan
    return _SECRET_TEXT.sub(lambda m: f"{m.group(1)}{_MASK}" if m.group(1) is not None
                            else f"{m.group(2)}:{_MASK}", text)


def redact(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    for key in event_dict.keys() & _SECRET_KEYS:
        event_dict[key] = _MASK
    for key in ("event", "exception"):  # the message, and a traceback's text (a DSN in it)
        text = event_dict.get(key)
        if isinstance(text, str):
            event_dict[key] = _mask_text(text)
    path = event_dict.get("path")
    if isinstance(path, str) and "?" in path:
        event_dict["path"] = _mask_text(path)
    return event_dict


def add_context(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    """The request or event the line was written for."""
    rid = request_id.get()
    if rid is not None:
        event_dict.setdefault("request_id", rid)
    handling = event_context.get()
    if handling is not None:
        for key, value in handling.items():
            event_dict.setdefault(key, value)
    trace = tracecontext.current()
    if trace is not None:
        event_dict.setdefault("trace_id", trace.trace_id)
        event_dict.setdefault("span_id", trace.span_id)
    return event_dict


def uvicorn_access_fields(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    """uvicorn's access records carry (client, method, path, http version, status) as args:
    make them fields, so a JSON line can be filtered by status without parsing its text."""
    args = event_dict.pop("positional_args", None)  # ProcessorFormatter(pass_foreign_args)
    record = event_dict.get("_record")
    if record is not None and record.name == "uvicorn.access" and \
            isinstance(args, tuple) and len(args) == 5:
        client, method, path, version, status = args
        event_dict.update(client=client, method=method, path=path, http_version=version,
                          status=status)
    event_dict.pop("color_message", None)  # uvicorn's coloured duplicate of the message
    return event_dict


def _json_dumps(value: Any, **_kw: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def build_formatter(fmt: str) -> ProcessorFormatter:
    shared = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        uvicorn_access_fields,
        add_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == JSON_FORMAT:
        tail = [structlog.processors.format_exc_info, redact,
                structlog.processors.EventRenamer("message"),
                structlog.processors.JSONRenderer(serializer=_json_dumps)]
    else:
        tail = [redact, structlog.dev.ConsoleRenderer(colors=False)]
    return ProcessorFormatter(foreign_pre_chain=[_add_pid, *shared], pass_foreign_args=True,
                              processors=[ProcessorFormatter.remove_processors_meta, *tail])


def _add_pid(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    event_dict["pid"] = os.getpid()  # with WEB_CONCURRENCY>1: which worker wrote the line
    return event_dict


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(level: str, fmt: str = CONSOLE_FORMAT, *, access_log: bool = True) -> None:
    """Route every logger (ours, uvicorn's, the libraries') to one stderr handler in `fmt`.

    Called again (another app in the same process) it replaces its own handler only: handlers
    others put on the root logger (pytest's capture) stay."""
    handler = _StderrHandler()
    handler.setFormatter(build_formatter(fmt))
    handler._snaproom = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in root.handlers[:]:
        if getattr(old, "_snaproom", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("snaproom_gateway").setLevel(level.upper())
    # uvicorn's own loggers write through ours: no handlers of their own (serving.run passes
    # log_config=None; a config uvicorn applied earlier in this process is undone here).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    if not access_log:  # uvicorn's protocols log requests only when this logger has handlers
        logging.getLogger("uvicorn.access").propagate = False
    # aiokafka logs every failed bootstrap at ERROR with a traceback; our own line says enough.
    floor = max(logging.WARNING, logging.getLevelName(level.upper()))
    logging.getLogger("aiokafka").setLevel(floor)
