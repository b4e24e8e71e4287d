"""One bounded Redis call for the social stores, through the Redis circuit breaker if any."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def guarded(breaker: Any, call: Callable[[], Awaitable[T]], timeout: float) -> T:
    """`call()` through `breaker` (resilience's Redis breaker: an open one refuses at once,
    without waiting out a timeout per call), or bounded by `timeout` alone when there is none."""
    if breaker is not None:
        return await breaker.call(call, timeout=timeout)
    return await asyncio.wait_for(call(), timeout)
