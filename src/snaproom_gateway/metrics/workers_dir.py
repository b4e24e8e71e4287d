"""The directory of prometheus-client's multiprocess mode, prepared by `serve`.

Imports nothing of prometheus-client: it reads PROMETHEUS_MULTIPROC_DIR when first imported,
so the variable is set here before any worker imports it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator

ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def prepared(configured: str | None, workers: int) -> Iterator[str | None]:
    """For a server of `workers` processes: the directory the workers write their values to.

    A configured directory (PROMETHEUS_MULTIPROC_DIR, or its line in `.env`) is created if
    needed and emptied: values of an earlier run would be added to this one's. With none
    configured and several workers, a fresh temporary one is made and removed afterwards. One
    worker and none configured: None, plain single-process metrics."""
    if configured:
        os.makedirs(configured, exist_ok=True)
        for stale in glob.glob(os.path.join(configured, "*.db")):
            os.remove(stale)
        os.environ[ENV] = configured
        yield configured
        return
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="snaproom-metrics-")
    os.environ[ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(path, ignore_errors=True)
