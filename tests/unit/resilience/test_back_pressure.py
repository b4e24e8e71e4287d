"""Load is not failure, without servers: the admission gate queues and refuses as busy, and a
pool that ran dry is a 503 "busy" that no breaker counts."""

import asyncio

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy.exc import TimeoutError as PoolTimeout

from snaproom_gateway.api.app import create_app
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.resilience.admission import AdmissionGate
from snaproom_gateway.resilience.breaker import CircuitBreaker
from snaproom_gateway.resilience.classify import PoolBusy

probe_router = APIRouter()


@probe_router.get("/t/pool-dry")
async def pool_dry(session: SessionDep) -> dict:
    raise PoolTimeout("QueuePool limit of size 5 overflow 0 reached, connection timed out")


async def test_the_gate_admits_up_to_its_limit_and_the_rest_wait_their_turn():
    gate = AdmissionGate("database", limit=2, timeout=5)
    order: list[int] = []
    release = asyncio.Event()

    async def request(i: int) -> None:
        async with gate.admit():
            order.append(i)
            await release.wait()

    tasks = [asyncio.create_task(request(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert (order, gate.in_flight, gate.waiting) == ([0, 1], 2, 3)
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4] and gate.health()["admitted_total"] == 5


async def test_the_gate_refuses_as_busy_after_its_queue_timeout():
    gate = AdmissionGate("database", limit=1, timeout=0.01)
    async with gate.admit():
        with pytest.raises(PoolBusy, match="database is busy"):
            async with gate.admit():
                pass
    assert gate.health()["refused_total"] == 1


def test_a_busy_call_is_no_verdict_on_the_breaker():
    breaker = CircuitBreaker("database")
    for _ in range(50):
        breaker.record(PoolTimeout("QueuePool limit reached"), breaker.acquire())
    snapshot = breaker.snapshot()
    assert snapshot["state"] == "closed" and snapshot["failures_total"] == 0
    assert snapshot["busy_total"] == 50


async def test_a_pool_that_ran_dry_answers_503_busy_and_the_breaker_stays_closed(
        embedded_settings):
    app = create_app(embedded_settings)
    app.include_router(probe_router)
    async with app.router.lifespan_context(app):  # SQLite: migrated on start
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = [await client.get("/t/pool-dry") for _ in range(10)]
            metrics = await client.get("/metrics")
        breaker = app.state.runtime.breakers["database"].snapshot()
    assert {a.status_code for a in answers} == {503}
    assert answers[0].json()["detail"].startswith("database is busy")
    assert answers[0].headers["retry-after"] == "1"
    assert breaker["state"] == "closed" and breaker["failures_total"] == 0
    assert breaker["busy_total"] == 10
    assert 'snaproom_pool_exhausted_total{dependency="database"} 10.0' in metrics.text
