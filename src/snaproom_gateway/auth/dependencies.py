"""Who is calling: `CurrentUser`, `OptionalUser`, `AdminUser`, and `require_admin` for routers.

The token comes from the `snaproom_session` cookie or an `Authorization: Bearer` header. On the
hot path both lookups (session, then user) are cache hits; the database answers a miss.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from snaproom_gateway.auth import sessions
from snaproom_gateway.auth.schemas import AuthUser
from snaproom_gateway.deps import SessionDep
from snaproom_gateway.users import service as users_service

NOT_AUTHENTICATED = "Not authenticated"
ADMIN_REQUIRED = "Admin role required"
SESSION_COOKIE = "snaproom_session"

# auto_error=False: the missing-token answer is ours (401 with WWW-Authenticate), and both
# schemes appear in the OpenAPI document so clients know where the token may go.
_bearer = HTTPBearer(auto_error=False, description="The session token from login or signup")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="The HttpOnly session cookie set by login or signup")


def unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, NOT_AUTHENTICATED,
                         headers={"WWW-Authenticate": "Bearer"})


def request_token(request: Request, bearer: HTTPAuthorizationCredentials | None) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return request.cookies.get(SESSION_COOKIE)


async def optional_user(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _cookie_value: Annotated[str | None, Depends(_cookie)],
) -> AuthUser | None:
    token = request_token(request, bearer)
    if not token:
        return None
    state = request.app.state
    info = await sessions.resolve(state, session, token)
    if info is None:
        return None
    data = await users_service.load_snapshot(state, session, info.user_id)
    if data is None or data.get("status") != users_service.ACTIVE:
        return None
    request.state.user_snapshot = data  # the route may answer with it without a second lookup
    return AuthUser(id=data["id"], email=data["email"], username=data["username"],
                    role=data["role"], display_name=data.get("display_name"),
                    session_hash=info.token_hash)


async def current_user(user: Annotated[AuthUser | None, Depends(optional_user)]) -> AuthUser:
    if user is None:
        raise unauthorized()
    return user


async def require_admin(user: Annotated[AuthUser, Depends(current_user)]) -> AuthUser:
    """Use as a router dependency: `APIRouter(dependencies=[Depends(require_admin)])`."""
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, ADMIN_REQUIRED)
    return user


OptionalUser = Annotated[AuthUser | None, Depends(optional_user)]
CurrentUser = Annotated[AuthUser, Depends(current_user)]
AdminUser = Annotated[AuthUser, Depends(require_admin)]
