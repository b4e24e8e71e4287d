"""How the gateway is served: uvicorn on uvloop, with the cache's fast path in its HTTP protocol.

One place for the server options, shared by `snaproom-gateway serve` and the benchmarks, so a
benchmark measures the server as it runs in production.
"""

from __future__ import annotations

from typing import Any

from snaproom_gateway.core.settings import Settings


def http_protocol(settings: Settings) -> Any:
    """The HTTP protocol: httptools, answering L1 cache hits itself unless the fast path is off."""
    if not settings.cache.http_fast_path:
        return "httptools"
    from snaproom_gateway.cache.http_protocol import FastPathHttpProtocol

    return FastPathHttpProtocol


def run(settings: Settings, app: Any = "snaproom_gateway.api.app:app", *, host: str | None = None,
        port: int | None = None, workers: int | None = None, **overrides: Any) -> None:
    import uvicorn

    from snaproom_gateway.observability.logging_setup import configure as configure_logging
    from snaproom_gateway.realtime.ws_protocol import GoingAwayWebSocketProtocol

    # uvicorn's loggers write through ours (same format as the app's lines): log_config=None
    # keeps uvicorn from installing its own handlers, here and in each worker.
    configure_logging(settings.observability.log_level, settings.effective_log_format,
                      access_log=settings.observability.access_log)
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers or settings.web_concurrency,
        "loop": "uvloop",
        "http": http_protocol(settings),
        "log_level": settings.observability.log_level,
        "access_log": settings.observability.access_log,
        "log_config": None,
        "proxy_headers": True,
        "ws": GoingAwayWebSocketProtocol,  # open sockets get 1001 on SIGTERM, not 1012
        # Lifespan shutdown drains consumers and the outbox relay within this bound.
        "timeout_graceful_shutdown": int(settings.shutdown_timeout),
    }
    _exit_zero_after_drain()
    uvicorn.run(app, **(options | overrides))


def _exit_zero_after_drain() -> None:
    """uvicorn drains on SIGTERM, then raises the signal again under the handler it found: with
    the default one a drained instance would die with -15. A finished drain is a clean exit."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _drained)


def _drained(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
