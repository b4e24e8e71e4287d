"""The session store: durable rows in the database, an entry in the tagged cache per session.

Validation is a cache hit on the hot path; on a miss (expired entry, Redis restarted or down) the
database answers and the entry is written back, so losing the cache logs nobody out. Revocation
deletes the row first, then the cache entry (all of a user's entries by their tag).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway import domain_cache
from snaproom_gateway.auth.models import UserSession
from snaproom_gateway.auth.tokens import new_token, token_hash


@dataclass(frozen=True)
class SessionInfo:
    token_hash: str
    user_id: int
    expires_at: float  # epoch seconds


def session_key(hashed: str) -> str:
    return f"session:{hashed}"


def user_sessions_tag(user_id: int) -> str:
    return f"sessions:user:{user_id}"


async def create(session: AsyncSession, user_id: int, ttl: int, *, ip: str | None,
                 user_agent: str | None) -> tuple[str, SessionInfo]:
    """Add the row to the caller's transaction; return (token, info). Cache it after commit."""
    token = new_token()
    hashed = token_hash(token)
    expires = datetime.now(UTC) + timedelta(seconds=ttl)
    session.add(UserSession(token_hash=hashed, user_id=user_id, expires_at=expires,
                            ip=ip, user_agent=(user_agent or "")[:255] or None))
    return token, SessionInfo(hashed, user_id, expires.timestamp())


async def remember(state: Any, info: SessionInfo) -> None:
    remaining = int(info.expires_at - datetime.now(UTC).timestamp())
    ttl = min(state.settings.session_cache_ttl, remaining)
    if ttl <= 0:
        return
    value = orjson.dumps({"user_id": info.user_id, "expires_at": info.expires_at})
    await domain_cache.set(state, session_key(info.token_hash), value, ttl=ttl,
                           tags=(user_sessions_tag(info.user_id),))


async def resolve(state: Any, session: AsyncSession, token: str) -> SessionInfo | None:
    """The live session of this token, or None. Cache first, then the database."""
    if not token or len(token) > 512:
        return None
    hashed = token_hash(token)
    now = datetime.now(UTC).timestamp()
    cached = await domain_cache.get(state, session_key(hashed))
    if cached is not None:
        try:
            entry = orjson.loads(cached)
            info = SessionInfo(hashed, int(entry["user_id"]), float(entry["expires_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            info = None  # an unreadable entry is a miss
        if info is not None:
            return info if info.expires_at > now else None
    row = await session.get(UserSession, hashed)
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    info = SessionInfo(hashed, row.user_id, expires.timestamp())
    if info.expires_at <= now:
        return None
    await remember(state, info)
    return info


async def revoke(state: Any, session: AsyncSession, hashed: str) -> None:
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
