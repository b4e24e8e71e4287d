"""Garbage-collector tuning for the long-running processes (the gateway, `consume`).

A full (generation 2) collection walks every object the collector tracks. In a started
gateway most of them were made at startup and live as long as the process: modules, classes,
the pydantic, SQLAlchemy and FastAPI metadata. In the event benchmark's relay + consumer
process one such collection took 65-85 ms, about one per 15 s at 1,000 events/s, and every
event and request in flight waited for it. `gc.freeze()` (made for this) takes the startup heap
out of all later collections; the objects stay alive and are freed by reference counting as
ever, only not searched for cycles.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect the startup's garbage, then freeze what is left."""
    gc.collect()
    gc.freeze()


def unfreeze() -> None:
    """At shutdown: frozen objects are never searched for cycles, so a process that starts
    the app again (tests, reloads) would keep every earlier start's cyclic garbage."""
    gc.unfreeze()
