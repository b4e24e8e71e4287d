"""GET /api/admin/kafka/cluster and /consumers: brokers, topics and consumer lag.

Admins only (401 without a session, 403 without the admin role).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from snaproom_gateway.api.auth import require_admin
from snaproom_gateway.api.deps import EventsDep, KafkaDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.events import offsets
from snaproom_gateway.events.runtime import EventsRuntime
from snaproom_gateway.infra.kafka import KafkaConnection

ADMIN_TIMEOUT = 10.0


router = APIRouter(prefix="/api/admin/kafka", tags=["admin"],
                   dependencies=[Depends(require_admin)],
                   responses=error_responses(401, 403))


def _kafka_or_503(kafka: KafkaConnection | None, events: EventsRuntime):
    if kafka is None:
        return None, None
    if kafka.admin is None:
        raise HTTPException(status_code=503, detail="kafka is not connected: "
                            f"{kafka.last_error or 'connecting'}")
    return kafka.admin, events.reader


@router.get("/cluster", summary="Brokers, controller, topics and consumer groups with lag")
async def cluster(kafka: KafkaDep, events: EventsDep) -> dict[str, Any]:
    admin, reader = _kafka_or_503(kafka, events)
    if admin is None:
        return {"mode": "in-process", "brokers": [], "controller": None, "topics": [],
                "consumer_groups": [], "total_lag": 0}
    try:
        return {"mode": "kafka", **await offsets.cluster_info(admin, reader, ADMIN_TIMEOUT)}
    except Exception as exc:  # any broker trouble: a 503, never a 500
        raise HTTPException(status_code=503, detail=f"kafka did not answer: {exc!r}") from None


@router.get("/consumers", summary="Every consumer group: committed, end offset and lag")
async def consumers(kafka: KafkaDep, events: EventsDep) -> dict[str, Any]:
    admin, reader = _kafka_or_503(kafka, events)
    running = events.consumers_health()
    if admin is None:
        return {"mode": "in-process", "groups": [], "running": running}
    try:
        groups = await offsets.consumer_groups(admin, reader, ADMIN_TIMEOUT)
    except Exception as exc:  # any broker trouble: a 503, never a 500
        raise HTTPException(status_code=503, detail=f"kafka did not answer: {exc!r}") from None
    return {"mode": "kafka", "groups": groups, "total_lag": sum(g["lag"] for g in groups),
            "running": running}
