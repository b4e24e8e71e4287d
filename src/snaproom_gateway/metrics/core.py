"""The process registry, and whether prometheus-client runs in multiprocess mode.

prometheus-client picks its value store when imported: with PROMETHEUS_MULTIPROC_DIR set, every
metric of every process writes its values to files there, and a scrape sums them (the
MultiProcessCollector). `serve` sets the variable before the workers start (cli.py).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=False)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
