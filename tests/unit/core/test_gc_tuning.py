"""The gateway freezes its startup heap out of the garbage collector once started, and thaws it
at shutdown (gc_tuning.py)."""

from __future__ import annotations

import gc

from tests.support.apps import running_app


async def test_the_started_app_has_frozen_its_startup_heap_and_thaws_it_on_shutdown(
        embedded_settings):
    assert gc.get_freeze_count() == 0
    async with running_app(embedded_settings):
        frozen = gc.get_freeze_count()
    assert frozen > 10_000  # modules, classes, metadata: far more than a handful of objects
    assert gc.get_freeze_count() == 0


async def test_gc_freeze_false_leaves_the_collector_alone(embedded_settings):
    async with running_app(embedded_settings.with_changes(**{"gc_freeze": False})):
        assert gc.get_freeze_count() == 0
