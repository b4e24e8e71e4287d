"""The account deletion saga (a flow, apart from CRUD).

1. The request marks the user `deleting`, revokes every session and publishes user.deleted, in
   one transaction (the user can no longer sign in from that moment).
2. The user.deleted consumer runs every purge step (sessions, connections, messages,
   notifications, ... each domain exports its own; the app includes them in order, see
   api/subscriptions.py) inside one savepoint, so the user's data goes all at once or not at
   all. A failing attempt is retried with backoff; attempts are counted on the saga row and
   survive redelivery.
3. Success: the user row is anonymised (email and username freed) and marked `deleted`.
   After USER_DELETION_MAX_ATTEMPTS failures the saga compensates: the account is restored to
   `active` (the user signs in again), user.restored and audit.user_deletion_failed are
   published and the error is logged. There is never a half-deleted user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.users import events
from snaproom_gateway.users.exceptions import DeletionInProgress
from snaproom_gateway.users.models import User, UserDeletion

log = logging.getLogger(__name__)

DELETING, DELETED, ACTIVE = "deleting", "deleted", "active"
PurgeStep = Callable[[AsyncSession, int], Awaitable[None]]
# name -> `async def step(session, user_id)` that removes one kind of the user's data, run in
# this order. Steps run in the consumer's transaction and must not commit; raising fails the
# attempt. Filled by include_purge_steps (the app), not by the domains themselves.
purge_steps: dict[str, PurgeStep] = {}


def include_purge_steps(*steps: Mapping[str, PurgeStep]) -> None:
    """Make `steps` (each a domain's, in the order given) the saga's purge steps."""
    purge_steps.clear()
    for domain_steps in steps:
        purge_steps.update(domain_steps)


@dataclass(frozen=True)
class SessionRevocation:
    """How a user's sessions end, given by the auth domain: auth depends on users, never the
    reverse, so the saga reaches it through this hook (as it reaches other domains' data
    through purge steps)."""

    # Deletes every session row in the caller's transaction; returns their hashes.
    revoke_all: Callable[[AsyncSession, int], Awaitable[list[str]]]
    # After the commit: drops those sessions' cache entries (state, user id, hashes).
    forget_all: Callable[[Any, int, list[str]], Awaitable[None]]
    user_tag: Callable[[int], str]  # the cache tag of a user's session entries


_revocation: SessionRevocation | None = None


def revoke_sessions_with(revocation: SessionRevocation) -> None:
    global _revocation
    _revocation = revocation


def session_revocation() -> SessionRevocation:
    if _revocation is None:
        raise RuntimeError("no session revocation wired: "
                           "api.subscriptions.include_domains does it")
    return _revocation


async def start(state: Any, session: AsyncSession, user: User) -> None:
    """Step 1, on the request: mark, revoke, publish; committed together."""
    if user.status != ACTIVE:
        raise DeletionInProgress()
    user.status = DELETING
    user.deleted_at = datetime.now(UTC)
    session.add(UserDeletion(user_id=user.id, status="running", attempts=0))
    revocation = session_revocation()
    hashes = await revocation.revoke_all(session, user.id)
    await events.user_deleted(session, user.id)
    await events.audit(session, "user_deletion_requested", user.id)
    await session.commit()
    await revocation.forget_all(state, user.id, hashes)


async def _running_saga(session: AsyncSession, user_id: int) -> UserDeletion | None:
    return await session.scalar(
        select(UserDeletion).where(UserDeletion.user_id == user_id,
                                   UserDeletion.status == "running")
        .order_by(UserDeletion.id.desc()).limit(1))


def _anonymise(user: User) -> None:
    user.status = DELETED
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.username = f"deleted_{user.id}"
    user.password_hash = "!"  # matches no password
    for name in ("first_name", "last_name", "display_name", "bio", "avatar_url"):
        setattr(user, name, None)


async def finish(session: AsyncSession, settings: Any, user_id: int) -> str:
    """Steps 2-3, in the user.deleted consumer. Returns completed, compensated or skipped."""
    saga = await _running_saga(session, user_id)
    user = await session.get(User, user_id)
    if saga is None or user is None or user.status != DELETING:
        return "skipped"  # a redelivery after the saga ended, or a stale event
    while saga.attempts < settings.users.deletion_max_attempts:
        saga.attempts += 1
        current = "?"
        try:
            async with session.begin_nested():
                for name, step in purge_steps.items():
                    current = name
                    await step(session, user_id)
        except Exception as exc:  # any step failure fails this attempt; the savepoint undid it
            saga.last_error = f"{current}: {type(exc).__name__}: {exc}"[:2000]
            log.warning("deletion of user %s, attempt %s failed: %s", user_id, saga.attempts,
                        saga.last_error)
            if saga.attempts < settings.users.deletion_max_attempts:
                await asyncio.sleep(settings.users.deletion_retry_delay * 2 ** (saga.attempts - 1))
            continue
        _anonymise(user)
        saga.status, saga.finished_at = "completed", datetime.now(UTC)
        await events.audit(session, "user_deleted", user_id, attempts=saga.attempts)
        return "completed"
    user.status, user.deleted_at = ACTIVE, None
    saga.status, saga.finished_at = "compensated", datetime.now(UTC)
    await events.user_restored(session, user_id)
    await events.audit(session, "user_deletion_failed", user_id, attempts=saga.attempts,
                       error=saga.last_error)
    log.error("deletion of user %s could not finish after %s attempts; account restored (%s)",
              user_id, saga.attempts, saga.last_error)
    return "compensated"
