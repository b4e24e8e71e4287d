"""Users: plain functions, database session first. Events go into the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.cache import domain_cache
from snaproom_gateway.users import events
from snaproom_gateway.users.exceptions import UserExists
from snaproom_gateway.users.models import User
from snaproom_gateway.users.passwords import hash_password

ACTIVE = "active"
PUBLIC_FIELDS = ("id", "username", "display_name", "first_name", "last_name", "bio",
                 "avatar_url", "created_at")


def _created(user: User) -> str:
    created = user.created_at if user.created_at.tzinfo else user.created_at.replace(tzinfo=UTC)
    return created.isoformat()


def public_profile(user: User) -> dict[str, Any]:
    """The profile anyone signed in may see: what the user cache (user:{id}) holds.

    Only public fields: the cache's HTTP layer may serve this entry as it is.
    """
    return {name: getattr(user, name) for name in PUBLIC_FIELDS if name != "created_at"} | {
        "created_at": _created(user)}


def snapshot(user: User) -> dict[str, Any]:
    """The user as its owner sees it (public profile, email and role)."""
    return public_profile(user) | {"email": user.email, "role": user.role}


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def load_public_bytes(state: Any, session: AsyncSession, user_id: int) -> bytes | None:
    """An active user's public profile as the JSON bytes the user cache holds (the same bytes the
    HTTP fast path serves): the cache first, then the database (written back). Concurrent misses
    for one user run one database read (the cache's single flight).

    None for an unknown or deleted user; only active users are cached, and the events that end
    that (user.deleted) drop the entry. `session` is the caller's; the read runs in its own,
    since readers that joined the flight wait on it even if the first reader goes away.
    """
    async def load() -> bytes:
        async with state.sessionmaker() as own:
            user = await get(own, user_id)
        if user is None or user.status != ACTIVE:
            raise domain_cache.NotCached
        return orjson.dumps(public_profile(user))

    return await domain_cache.get_or_load_user(state, user_id, load)


async def load_public(state: Any, session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    body = await load_public_bytes(state, session, user_id)
    return None if body is None else orjson.loads(body)


async def list_active(session: AsyncSession, page: int, size: int) -> tuple[list[User], int]:
    active = User.status == ACTIVE
    total = await session.scalar(select(func.count()).select_from(User).where(active))
    rows = await session.scalars(
        select(User).where(active).order_by(User.id).offset((page - 1) * size).limit(size))
    return list(rows.all()), int(total or 0)


async def _taken(session: AsyncSession, email: str, username: str) -> str | None:
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        return "email"
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        return "username"
    return None


async def create(session: AsyncSession, *, email: str, username: str, password: str,
                 first_name: str | None = None, last_name: str | None = None,
                 role: str = "user") -> User:
    """Insert the user and publish user.created in the caller's transaction (not committed)."""
    email, username = email.strip().lower(), username.strip().lower()
    if field := await _taken(session, email, username):
        raise UserExists(field)
    user = User(email=email, username=username, password_hash=await hash_password(password),
                first_name=first_name, last_name=last_name, role=role, status=ACTIVE)
    try:
        # Two signups racing for one name: the unique constraint decides, the loser gets 409.
        # The add is inside the savepoint: begin_nested() flushes what is pending before it.
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        raise UserExists(await _taken(session, email, username) or "email or username") from None
    await events.user_created(session, user.id, email, username)
    return user


async def update_profile(session: AsyncSession, user: User, changes: dict[str, Any]) -> list[str]:
    """Apply the changed fields; publish user.updated and audit.profile_updated if any."""
    fields = sorted(name for name, value in changes.items() if getattr(user, name) != value)
    for name in fields:
        setattr(user, name, changes[name])
    if fields:
        user.updated_at = datetime.now(UTC)
        await events.user_updated(session, user.id, fields)
        await events.audit(session, "profile_updated", user.id, fields=fields)
    return fields


async def create_admin(session: AsyncSession, *, email: str, username: str | None,
                       password: str | None) -> tuple[User, str]:
    """Promote the user with this email to admin, or create one.

    Returns (user, outcome) with outcome created, promoted or unchanged (already an admin).
    """
    user = await get_by_email(session, email)
    if user is None:
        if not password:
            raise ValueError("a password is needed to create a new user (--password-stdin)")
        user = await create(session, email=email, username=username or email.split("@")[0],
                            password=password, role="admin")
        await events.audit(session, "admin_created", user.id, email=user.email, created=True)
        return user, "created"
    if user.status != ACTIVE:
        raise ValueError(f"the user with this email is {user.status}, not active")
    if user.role != "admin":
        user.role = "admin"
        user.updated_at = datetime.now(UTC)
        await events.user_updated(session, user.id, ["role"])
        await events.audit(session, "admin_created", user.id, email=user.email, created=False)
        return user, "promoted"
    return user, "unchanged"
