"""Every event the users and auth domains publish, one function each (contract names and data).

The rows go into the caller's session; the caller commits them with the change they describe.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.events import publisher


async def user_created(session: AsyncSession, user_id: int, email: str, username: str) -> None:
    await publisher.publish_user_event(session, "user.created", user_id,
                                       {"email": email, "username": username})


async def user_updated(session: AsyncSession, user_id: int, fields: list[str]) -> None:
    await publisher.publish_user_event(session, "user.updated", user_id, {"fields": fields})


async def user_deleted(session: AsyncSession, user_id: int) -> None:
    await publisher.publish_user_event(session, "user.deleted", user_id, {})


async def user_restored(session: AsyncSession, user_id: int) -> None:
    await publisher.publish_user_event(session, "user.restored", user_id, {})


async def user_login(session: AsyncSession, user_id: int, ip: str | None) -> None:
    await publisher.publish_user_event(session, "user.login", user_id,
                                       {"ip": ip} if ip else {})


async def user_logout(session: AsyncSession, user_id: int) -> None:
    await publisher.publish_user_event(session, "user.logout", user_id, {})


async def profile_views_counted(session: AsyncSession, views: dict[int, int]) -> None:
    """One analytics event per batch of views counted in process: {profile user id: views}.

    One event, not one per profile: at thousands of views a second a row per profile and batch
    made the outbox and the relay the batch's main cost."""
    await publisher.publish(session, "profile.views_counted", user_id=None,
                            data={"views": {str(k): v for k, v in sorted(views.items())}})


async def audit(session: AsyncSession, action: str, user_id: int | None,
                **context: Any) -> None:
    """An audit.<action> event: login, logout, login_failed, profile_updated, ..."""
    await publisher.publish_audit_event(session, action, user_id, context)
