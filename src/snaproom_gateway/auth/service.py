"""Signup, login and logout: each one transaction holding the change, its events and audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.auth import sessions
from snaproom_gateway.auth.exceptions import InvalidCredentials
from snaproom_gateway.auth.schemas import AuthUser, SignupIn
from snaproom_gateway.auth.sessions import SessionInfo
from snaproom_gateway.users import events
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.models import User
from snaproom_gateway.users.passwords import verify_password


@dataclass(frozen=True)
class Client:
    """Where a request comes from, for sessions and the audit trail."""

    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    session: SessionInfo


async def _open_session(state: Any, session: AsyncSession, user: User, client: Client, *,
                        audit_action: str) -> SignedIn:
    """Open a session for `user`, publish user.login and the audit event in the same commit,
    then cache the session (after the commit, so the cache never holds an uncommitted one)."""
    token, info = await sessions.create(session, user, state.settings.auth.session_ttl,
                                        ip=client.ip, user_agent=client.user_agent)
    await events.user_login(session, user.id, client.ip)
    await events.audit(session, audit_action, user.id, ip=client.ip)
    await session.commit()
    await sessions.remember(state, info)
    return SignedIn(user, token, info)


async def signup(state: Any, session: AsyncSession, data: SignupIn, client: Client) -> SignedIn:
    user = await users_service.create(
        session, email=data.email, username=data.username, password=data.password,
        first_name=data.first_name, last_name=data.last_name)
    return await _open_session(state, session, user, client, audit_action="signup")


async def login(state: Any, session: AsyncSession, email: str, password: str,
                client: Client) -> SignedIn:
    user = await users_service.get_by_email(session, email)
    valid, new_hash = await verify_password(password, user.password_hash if user else None)
    if not valid or user is None or user.status != users_service.ACTIVE:
        await events.audit(session, "login_failed", user.id if user else None,
                           email=email.strip().lower()[:254], ip=client.ip)
        await session.commit()
        raise InvalidCredentials()
    if new_hash:
        user.password_hash = new_hash
    return await _open_session(state, session, user, client, audit_action="login")


async def logout(state: Any, session: AsyncSession, user: AuthUser, client: Client) -> None:
    await sessions.revoke(session, user.session_hash)
    await events.user_logout(session, user.id)
    await events.audit(session, "logout", user.id, ip=client.ip)
    await session.commit()
    # After the commit: a reader that misses the cache now finds no row either.
    await sessions.forget(state, user.session_hash)
