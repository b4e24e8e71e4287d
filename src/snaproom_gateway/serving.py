"""How the gateway is served: uvicorn on uvloop, with the cache's fast path in its HTTP protocol.

One place for the server options, shared by `snaproom-gateway serve` and the benchmarks, so a
benchmark measures the server as it runs in production.
"""

from __future__ import annotations

from typing import Any

from snaproom_gateway.settings import Settings


def http_protocol(settings: Settings) -> Any:
    """The HTTP protocol: httptools, answering L1 cache hits itself unless the fast path is off."""
    if not settings.cache_http_fast_path:
        return "httptools"
    from snaproom_gateway.cache.http_protocol import FastPathHttpProtocol

    return FastPathHttpProtocol


def run(settings: Settings, app: Any = "snaproom_gateway.app:app", *, host: str | None = None,
        port: int | None = None, workers: int | None = None, **overrides: Any) -> None:
    import uvicorn

    from snaproom_gateway.logging_setup import configure as configure_logging

    # uvicorn's loggers write through ours (same format as the app's lines): log_config=None
    # keeps uvicorn from installing its own handlers, here and in each worker.
    configure_logging(settings.log_level, settings.effective_log_format,
                      access_log=settings.access_log)
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers or settings.web_concurrency,
        "loop": "uvloop",
        "http": http_protocol(settings),
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "log_config": None,
        "proxy_headers": True,
        # Lifespan shutdown drains consumers and the outbox relay within this bound.
        "timeout_graceful_shutdown": int(settings.shutdown_timeout),
    }
    uvicorn.run(app, **(options | overrides))
