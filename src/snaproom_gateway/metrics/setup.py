"""What app.py calls: `install(app, settings)` when building it, `start(runtime, stack)` in the
lifespan.

One process: `/metrics` (resilience/metrics.py) serves the app's registry, to which the process
metrics are added; live values are read at scrape time. Several workers (PROMETHEUS_MULTIPROC_DIR
set by `serve`): the app's registry is replaced by one that sums every worker's files, and each
worker writes its live values there every METRICS_SAMPLE_INTERVAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import re
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Protocol

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.metrics.core import REGISTRY, multiprocess_dir
from snaproom_gateway.metrics.http import HttpMetricsMiddleware
from snaproom_gateway.metrics.live import LiveSampler, SampledHost

log = logging.getLogger(__name__)
_PID_OF_FILE = re.compile(r"_(\d+)\.db$")


def install(app: FastAPI, settings: Settings) -> None:
    """Count every request the app answers (outermost: its latency includes the middleware)."""
    if settings.observability.metrics_enabled:
        app.add_middleware(HttpMetricsMiddleware)


class _ProcessCollector(Collector):
    """One process: sample the live values, then report the process registry."""

    def __init__(self, sampler: LiveSampler) -> None:
        self.sampler = sampler

    def collect(self) -> Iterator[Metric]:
        self.sampler.sample()
        yield from REGISTRY.collect()


class _WorkersCollector(Collector):
    """Several workers: this worker's live values written first, then every worker's files."""

    def __init__(self, sampler: LiveSampler, path: str) -> None:
        self.sampler = sampler
        self.path = path

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.multiprocess import MultiProcessCollector

        self.sampler.sample()
        forget_dead_workers(self.path)
        yield from MultiProcessCollector(None, self.path).collect()


def forget_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that are gone (uvicorn restarted them): their values
    would otherwise count in every `livesum`/`livemax` forever."""
    from prometheus_client import multiprocess

    pids = {int(m.group(1)) for name in glob.glob(os.path.join(path, "gauge_live*.db"))
            if (m := _PID_OF_FILE.search(name))}
    for pid in pids:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsHost(SampledHost, Protocol):
    """What this part reads of the app's runtime (api/runtime.py), and the field it sets."""

    metrics: CollectorRegistry | None

    @property
    def settings(self) -> Settings: ...


async def start(runtime: MetricsHost, stack: AsyncExitStack) -> None:
    registry = runtime.metrics
    if registry is None:  # METRICS_ENABLED=false
        return
    path = multiprocess_dir()
    if path is None:
        registry.register(_ProcessCollector(LiveSampler(runtime, breakers=False)))
        return
    sampler = LiveSampler(runtime, breakers=True)
    workers = CollectorRegistry(auto_describe=False)
    workers.register(_WorkersCollector(sampler, path))
    runtime.metrics = workers
    interval = runtime.settings.observability.metrics_sample_interval
    task = asyncio.create_task(_sample_forever(sampler, interval), name="metrics-sampler")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), path)  # our live gauges leave with us

    stack.push_async_callback(stop)


async def _sample_forever(sampler: LiveSampler, interval: float) -> None:
    while True:
        try:
            sampler.sample()
        except Exception as exc:  # metrics only: never take the worker down
            log.debug("metrics sample failed: %r", exc)
        await asyncio.sleep(interval)
