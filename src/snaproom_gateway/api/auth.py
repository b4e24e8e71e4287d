"""Who is calling: `CurrentUser`, `OptionalUser`, `AdminUser`, and `require_admin` for routers.

The token comes from the `snaproom_session` cookie or an `Authorization: Bearer` header. On the
hot path it is one cache hit (the session entry carries id, email, username and role); the
database answers a miss.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.auth import sessions
from snaproom_gateway.auth.schemas import AuthUser
from snaproom_gateway.core.constants import SESSION_COOKIE

NOT_AUTHENTICATED = "Not authenticated"
ADMIN_REQUIRED = "Admin role required"

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
    info = await sessions.resolve(request.app.state.runtime, session, token)
    if info is None:
        return None
    return AuthUser(id=info.user_id, email=info.email, username=info.username, role=info.role,
                    display_name=info.display_name, session_hash=info.token_hash)


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
