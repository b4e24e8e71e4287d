"""Wakes the outbox relay right after a transaction that wrote outbox rows commits.

`publish()` marks the session; the `after_commit` listener below fires the in-process signal, so
the relay does not wait for its next poll. Other gateway instances hear a PostgreSQL NOTIFY on
OUTBOX_CHANNEL, sent by the outbox's insert trigger (migration 0005), so only on commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

OUTBOX_CHANNEL = "snaproom_outbox"
PENDING_KEY = "snaproom_outbox_pending"

_wakers: set[Callable[[], None]] = set()


def add_waker(loop: asyncio.AbstractEventLoop, signal: asyncio.Event) -> Callable[[], None]:
    """Register `signal` to be set after every commit that wrote outbox rows; returns the handle."""

    def wake() -> None:
        # Commits may happen on another loop or thread (tests, sync callers): be thread-safe.
        with contextlib.suppress(RuntimeError):  # that loop is closed: nothing to wake
            loop.call_soon_threadsafe(signal.set)

    _wakers.add(wake)
    return wake


def remove_waker(handle: Callable[[], None]) -> None:
    _wakers.discard(handle)


def wake_all() -> None:
    for wake in list(_wakers):
        wake()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(PENDING_KEY, False):
        wake_all()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
