"""What the benchmarks share: waiting for a gateway they started to answer."""

from __future__ import annotations

import time

import httpx


def wait_ready(base: str, timeout: float = 60) -> None:
    """Poll /api/health/live until it answers 200; exit with a clear line after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gateway at {base} did not become ready within {timeout:.0f} s")
