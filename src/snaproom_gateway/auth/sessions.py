"""The session store: durable rows in the database, an entry in the tagged cache per session.

The cache entry holds what a request needs to know about its user (id, email, username, role),
so validation is one cache hit on the hot path. It carries the user's cache tags too: the event
that drops `user:{id}` (a role or name change, a deletion) drops the user's sessions' entries,
and the next request reads them again from the database. On a miss (expired entry, Redis
restarted or down) the database answers and the entry is written back, so losing the cache
logs nobody out. Revocation deletes the row first, then the cache entries.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.auth.models import UserSession
from snaproom_gateway.auth.tokens import new_token, token_hash
from snaproom_gateway.cache import domain_cache
from snaproom_gateway.users import deletion
from snaproom_gateway.users.models import User

ACTIVE = "active"
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class SessionInfo:
    """A live session and the facts about its user that authorization needs."""

    token_hash: str
    user_id: int
    expires_at: float  # epoch seconds
    email: str
    username: str
    role: str
    display_name: str | None = None


def session_key(hashed: str) -> str:
    return f"session:{hashed}"


def user_sessions_tag(user_id: int) -> str:
    return f"sessions:user:{user_id}"


def _info(hashed: str, user: User, expires: datetime) -> SessionInfo:
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return SessionInfo(hashed, user.id, expires.timestamp(), user.email, user.username,
                       user.role, user.display_name)


async def create(session: AsyncSession, user: User, ttl: int, *, ip: str | None,
                 user_agent: str | None) -> tuple[str, SessionInfo]:
    """Add the row to the caller's transaction; return (token, info). Cache it after commit."""
    token = new_token()
    hashed = token_hash(token)
    expires = datetime.now(UTC) + timedelta(seconds=ttl)
    session.add(UserSession(token_hash=hashed, user_id=user.id, expires_at=expires,
                            ip=ip, user_agent=(user_agent or "")[:255] or None))
    return token, _info(hashed, user, expires)


async def remember(state: Any, info: SessionInfo) -> None:
    remaining = int(info.expires_at - datetime.now(UTC).timestamp())
    ttl = min(state.settings.auth.session_cache_ttl, remaining)
    if ttl <= 0:
        return
    fields = asdict(info)
    del fields["token_hash"]
    await domain_cache.set(state, session_key(info.token_hash), orjson.dumps(fields), ttl=ttl,
                           tags=(user_sessions_tag(info.user_id),
                                 *domain_cache.user_tags(state, info.user_id)))


def _from_cache(hashed: str, raw: bytes) -> SessionInfo | None:
    try:
        fields = orjson.loads(raw)
        return SessionInfo(token_hash=hashed, user_id=int(fields["user_id"]),
                           expires_at=float(fields["expires_at"]), email=fields["email"],
                           username=fields["username"], role=fields["role"],
                           display_name=fields.get("display_name"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # an unreadable or older-shaped entry is a miss


async def resolve(state: Any, session: AsyncSession, token: str) -> SessionInfo | None:
    """The live session of this token, or None. One cache read; on a miss one query."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    hashed = token_hash(token)
    now = datetime.now(UTC).timestamp()
    cached = await domain_cache.get(state, session_key(hashed))
    if cached is not None and (info := _from_cache(hashed, cached)) is not None:
        return info if info.expires_at > now else None
    found = (await session.execute(
        select(UserSession.expires_at, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hashed))).first()
    if found is None:
        return None
    expires, user = found
    info = _info(hashed, user, expires)
    if info.expires_at <= now or user.status != ACTIVE:
        return None
    await remember(state, info)
    return info


async def revoke(session: AsyncSession, hashed: str) -> None:
    """Delete one session in the caller's transaction; call `forget` after the commit."""
    await session.execute(delete(UserSession).where(UserSession.token_hash == hashed))


async def forget(state: Any, hashed: str) -> None:
    await domain_cache.delete(state, session_key(hashed))


async def revoke_all(session: AsyncSession, user_id: int) -> list[str]:
    """Delete every session of a user in the caller's transaction; return their hashes."""
    hashes = list((await session.scalars(
        select(UserSession.token_hash).where(UserSession.user_id == user_id))).all())
    await session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return hashes


async def forget_all(state: Any, user_id: int, hashes: list[str]) -> None:
    await domain_cache.invalidate_tags(state, [user_sessions_tag(user_id)])
    for hashed in hashes:  # also by key: a cache that lost its tag index must not keep them
        await domain_cache.delete(state, session_key(hashed))


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(UserSession).where(UserSession.expires_at <= datetime.now(UTC)))
    return result.rowcount or 0


def cached_viewer_key(token: str) -> str | None:
    """The cache key of `token`'s session entry (the fast path loads it from Redis)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return session_key(token_hash(token))


def cached_viewer(state: Any, token: str) -> SessionInfo | None:
    """The live session of `token` if its entry is in the L1, else None; no I/O (the HTTP fast
    path asks this; a miss sends the request to the route, which reads Redis or the database)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    hashed = token_hash(token)
    entry = domain_cache.peek(state, session_key(hashed))
    if entry is None:
        return None
    info = entry.memo("session", lambda e: _from_cache(hashed, e.value))
    if info is None or info.expires_at <= time.time():
        return None
    return info


# How the deletion saga (users) ends a user's sessions; the app wires it (api/subscriptions.py).
REVOCATION = deletion.SessionRevocation(revoke_all, forget_all, user_sessions_tag)

