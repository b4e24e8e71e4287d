"""Waiting on an asyncio.Event with a bound: the shape every readiness wait here takes."""

import asyncio


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """True once `event` is set, False if `timeout` seconds pass first."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
