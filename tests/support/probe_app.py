"""A test-only router that exercises the breakers the way the cached endpoints will.

`GET /t/cached/{key}` reads Redis through the redis breaker and falls back to the database (a cache
miss is answered from PostgreSQL); `PUT /t/cached/{key}` needs Redis (503 when it is away);
`GET /t/db` needs the database; `POST /t/outbox` writes an outbox row and publishes it through the
kafka breaker, leaving it pending when Kafka is away. Re-point these tests at the real cached
endpoints (GET /api/users/{id}) and the real relay once those are merged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import text

from snaproom_gateway.api.app import create_app
from snaproom_gateway.api.deps import BreakersDep, RedisBreakerDep, SessionDep
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.models import OutboxEvent

TOPIC = "resilience-probe"
router = APIRouter(prefix="/t")


def redis_clients(request: Request):
    return request.app.state.runtime.redis


@router.get("/cached/{key}")
async def read_cached(key: str, session: SessionDep, breakers: BreakersDep,
                      clients: Annotated[object, Depends(redis_clients)]) -> dict:
    redis_breaker = breakers["redis"]

    async def from_database() -> bytes | None:
        return None

    cached = await redis_breaker.call_or(lambda: clients.master.get(f"probe:{key}"),
                                         from_database)
    if cached is not None:
        return {"key": key, "value": cached.decode(), "source": "redis"}
    value = (await session.execute(text("SELECT 'value-of-' || CAST(:k AS text)"),
                                   {"k": key})).scalar_one()

    async def skip() -> None:
        return None

    # Filling the cache is best effort: a Redis outage must not fail a read.
    await redis_breaker.call_or(lambda: clients.master.set(f"probe:{key}", value, ex=60), skip)
    return {"key": key, "value": value, "source": "database"}


@router.put("/cached/{key}")
async def write_cached(key: str, redis: RedisBreakerDep) -> dict:
    await redis(lambda c: c.master.set(f"probe:{key}", f"value-of-{key}", ex=60))
    return {"key": key, "written": True}


@router.get("/db")
async def read_db(session: SessionDep) -> dict:
    return {"answer": (await session.execute(text("SELECT 42"))).scalar_one()}


@router.post("/outbox")
async def write_with_event(request: Request, session: SessionDep, breakers: BreakersDep) -> dict:
    row = OutboxEvent(event_id=str(uuid.uuid4()), topic=TOPIC, key="1", payload=b"{}")
    session.add(row)
    await session.commit()
    kafka = request.app.state.runtime.kafka

    async def send() -> bool:
        if kafka.producer is None:
            raise ConnectionError(kafka.last_error or "kafka not connected")
        await kafka.producer.send_and_wait(TOPIC, row.payload, key=row.key.encode())
        return True

    async def stay_pending() -> bool:
        return False

    sent = await breakers["kafka"].call_or(send, stay_pending)
    if sent:
        row.sent_at = datetime.now(UTC)
        await session.commit()
    return {"event_id": row.event_id, "sent": sent}


def build(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.include_router(router)
    return app


def settings_for(stack_env: dict[str, str], **overrides: object) -> Settings:
    env = {key.lower(): value for key, value in stack_env.items()}
    return Settings(_env_file=None, app_env="testing", **(env | overrides))
