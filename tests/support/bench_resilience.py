"""Benchmarks of the breakers (`make bench-breaker`): figures, not tests.

1. What a call through a closed breaker costs over a bare await.
2. How fast an open database breaker answers 503 through the whole app (httpx ASGITransport).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

import httpx

from snaproom_gateway.api.app import create_app
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.resilience import CircuitBreaker, State


async def breaker_overhead(calls: int = 200_000) -> tuple[float, float]:
    breaker = CircuitBreaker("bench")

    async def op() -> int:
        return 1

    started = time.perf_counter()
    for _ in range(calls):
        await op()
    bare = (time.perf_counter() - started) / calls

    started = time.perf_counter()
    for _ in range(calls):
        await breaker.call(op)
    guarded = (time.perf_counter() - started) / calls
    return bare * 1e6, guarded * 1e6


async def fast_503(requests: int = 2000) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, app_env="testing", log_level="warning",
                            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
                            breaker_reset_timeout=600)
        app = create_app(settings)

        from tests.support.probe_app import router

        app.include_router(router)
        async with app.router.lifespan_context(app):
            app.state.runtime.breakers["database"].force(State.OPEN, "bench")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                latencies = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get("/t/db")
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 503, response.text
    return latencies


async def main() -> None:
    bare, guarded = await breaker_overhead()
    print(f"breaker.call overhead: bare await {bare:.2f} us, through a closed breaker "
          f"{guarded:.2f} us (+{guarded - bare:.2f} us per call)")
    latencies = sorted(await fast_503())
    p = lambda q: latencies[int(q * (len(latencies) - 1))] * 1000  # noqa: E731
    print(f"open database breaker, GET through the app: {len(latencies)} x 503, "
          f"p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {max(latencies) * 1000:.2f} ms, "
          f"mean {statistics.fmean(latencies) * 1000:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
