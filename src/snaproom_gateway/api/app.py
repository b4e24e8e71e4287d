"""create_app(settings) and the lifespan: what the service holds for its whole life, in order.

Acquired top to bottom, released bottom to top; every release is time-bounded.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from snaproom_gateway import SERVICE_NAME, __version__
from snaproom_gateway.analytics.views import ProfileViewCounter
from snaproom_gateway.api import realtime_lifespan
from snaproom_gateway.api.admin.cache import router as cache_admin_router
from snaproom_gateway.api.admin.events import router as events_admin_router
from snaproom_gateway.api.admin.resilience import router as breakers_admin_router
from snaproom_gateway.api.error_responses import answer_domain_errors, document_unreadable_bodies
from snaproom_gateway.api.nul_guard import NulGuardMiddleware
from snaproom_gateway.api.routes.audit import router as audit_router
from snaproom_gateway.api.routes.auth import router as auth_router
from snaproom_gateway.api.routes.connections import router as connections_router
from snaproom_gateway.api.routes.health import router as health_router
from snaproom_gateway.api.routes.messages import router as messages_router
from snaproom_gateway.api.routes.notifications import router as notifications_router
from snaproom_gateway.api.routes.presence import router as presence_router
from snaproom_gateway.api.routes.realtime import router as realtime_router
from snaproom_gateway.api.routes.users import router as users_router
from snaproom_gateway.auth import janitor, sessions
from snaproom_gateway.cache.builder import build_cache
from snaproom_gateway.cache.http import CorsHeaders, install_fast_path
from snaproom_gateway.cache.stale import drop_after_commit
from snaproom_gateway.core import gc_tuning
from snaproom_gateway.core.settings import Settings, SettingsError, load_settings
from snaproom_gateway.events import runtime as events_runtime
from snaproom_gateway.infra import database, kafka, migrations, ratelimit, redis, schema_guard
from snaproom_gateway.messages import cached_answers as messages_answers
from snaproom_gateway.metrics import setup as metrics_setup
from snaproom_gateway.observability import redaction
from snaproom_gateway.observability.logging_setup import configure as configure_logging
from snaproom_gateway.observability.request_context import RequestIdMiddleware
from snaproom_gateway.resilience import setup as resilience_setup
from snaproom_gateway.users import cached_answers as users_answers

log = logging.getLogger(__name__)

CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "ETag"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    state = app.state
    state.started_at = time.monotonic()
    state.health_components = {}
    async with AsyncExitStack() as stack:
        state.engine = database.create_engine(settings)
        stack.push_async_callback(database.dispose, state.engine, 5.0)
        state.sessionmaker = database.create_sessionmaker(state.engine)
        if settings.observability.tracing_enabled:
            from snaproom_gateway.observability import tracing

            tracing.instrument_engine(state.engine)
        if settings.database.should_migrate_on_start:
            await migrations.upgrade(state.engine)
        # An unmigrated or behind schema: one line now, 503s naming `migrate` until it is done.
        state.schema_guard = await schema_guard.start(state.engine, settings.health_probe_timeout)

        state.redis = redis.create_clients(settings) if settings.redis_configured else None
        if state.redis is not None:
            stack.push_async_callback(redis.close, state.redis)

        state.kafka = kafka.KafkaConnection(settings) if settings.kafka.configured else None
        if state.kafka is not None:
            await state.kafka.start()
            stack.push_async_callback(state.kafka.close)

        # --- resilience: breakers ---
        breakers = resilience_setup.start(state, settings)
        stack.push_async_callback(breakers.drain)

        # --- cache ---
        # Redis errors of the cache count on the shared Redis breaker; while it is open the
        # cache reads are misses at once (the cache never turns them into 503s).
        state.cache = build_cache(settings, state.redis, breaker=state.breakers["redis"])
        await state.cache.start(prune_interval=settings.cache.prune_interval)
        stack.push_async_callback(state.cache.close)
        database.set_after_commit(state.sessionmaker, drop_after_commit(state.cache))

        # --- domain: presence, recent messages, realtime fan-out across instances ---
        # Before the consumers, so the notifications they handle first can be pushed.
        await realtime_lifespan.start(state, settings, stack)

        # --- events: outbox relay, consumers ---
        state.events = await events_runtime.start_events(state, stack)
        await metrics_setup.start(state, stack)  # after every part it reads

        # --- domain: rate limiter (fails open when Redis is down; reported in health) ---
        state.rate_limiter = ratelimit.RequestLimiter(settings, state.redis)
        state.health_components["rate_limiter"] = state.rate_limiter.health
        state.profile_views = ProfileViewCounter(
            state.sessionmaker, interval=settings.users.profile_views_flush_interval,
            max_pending=settings.users.profile_views_flush_max)
        state.profile_views.start()
        stack.push_async_callback(state.profile_views.close)
        session_janitor = asyncio.create_task(
            janitor.purge_forever(state.sessionmaker, settings.auth.session_purge_interval),
            name="session-janitor")
        stack.push_async_callback(janitor.stop, session_janitor)

        if settings.gc_freeze:  # last: everything startup keeps is made by now
            gc_tuning.freeze_startup_heap()
            stack.callback(gc_tuning.unfreeze)

        log.info("%s %s started (database=%s, cache=%s, events=%s)", SERVICE_NAME, __version__,
                 "sqlite" if settings.database.uses_sqlite else "postgresql",
                 settings.effective_cache_driver,
                 "kafka" if settings.kafka.configured else "in-process")
        yield
        log.info("shutting down")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.observability.log_level, settings.effective_log_format,
                      access_log=settings.observability.access_log)
    app = FastAPI(
        title="Snaproom gateway",
        version=__version__,
        summary="Backend-for-frontend of the Snaproom app",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(NulGuardMiddleware)  # inside CORS: its 422 gets the CORS headers
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=CORS_EXPOSE_HEADERS,
    )
    app.add_middleware(RequestIdMiddleware)
    redaction.install(app)  # a 422 never echoes a password or token
    metrics_setup.install(app)  # outermost: request counts and latency
    app.include_router(health_router)
    resilience_setup.install(app)
    app.include_router(breakers_admin_router)
    app.include_router(events_admin_router)
    app.include_router(cache_admin_router)
    # OpenTelemetry, optional: not even imported when off. Before the fast path, which wraps
    # the stack.
    if settings.observability.tracing_enabled:
        from snaproom_gateway.observability import tracing

        tracing.instrument_app(app, settings)
    if settings.cache.http_fast_path:
        # Cached GETs, anonymous or signed in, are answered before the middleware stack.
        install_fast_path(app, users_answers.CACHEABLE_ROUTES + messages_answers.CACHEABLE_ROUTES,
                          viewer=sessions.cached_viewer, viewer_key=sessions.cached_viewer_key,
                          cors=CorsHeaders(settings.cors_origins, CORS_EXPOSE_HEADERS))
    # --- routers of the domains ---
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(audit_router)
    app.include_router(connections_router)
    app.include_router(messages_router)
    app.include_router(presence_router)
    app.include_router(notifications_router)
    app.include_router(realtime_router)
    answer_domain_errors(app)
    document_unreadable_bodies(app)
    return app


def __getattr__(name: str) -> FastAPI:
    """`uvicorn snaproom_gateway.api.app:app` builds the app on first access, from the
    environment."""
    if name != "app":
        raise AttributeError(name)
    try:
        application = create_app()
    except SettingsError as exc:
        print(f"snaproom-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    globals()["app"] = application
    return application
