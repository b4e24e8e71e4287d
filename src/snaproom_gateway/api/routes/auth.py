"""/api/auth: signup, login, logout, me."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from snaproom_gateway.api.auth import CurrentUser
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.api.ratelimit import client_ip, rate_limit
from snaproom_gateway.auth import service
from snaproom_gateway.auth.schemas import AuthOut, LoginIn, SignupIn
from snaproom_gateway.cache.http import private_response
from snaproom_gateway.core.constants import SESSION_COOKIE
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.cached_answers import private_profile_body
from snaproom_gateway.users.schemas import UserPrivate

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _client(request: Request) -> service.Client:
    return service.Client(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


def _set_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.runtime.settings
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.auth.session_ttl, path="/",
                        httponly=True, secure=settings.cookie_secure,
                        samesite=settings.auth.session_cookie_samesite)


def _answer(request: Request, response: Response, signed_in: service.SignedIn) -> AuthOut:
    _set_cookie(request, response, signed_in.token)
    user = UserPrivate.model_validate(users_service.snapshot(signed_in.user))
    return AuthOut(user=user, token=signed_in.token)


@router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=AuthOut,
             summary="Create an account and sign in",
             responses=error_responses(409, 429),
             dependencies=[Depends(rate_limit("signup"))])
async def signup(data: SignupIn, request: Request, response: Response,
                 session: SessionDep) -> AuthOut:
    signed_in = await service.signup(request.app.state.runtime, session, data, _client(request))
    return _answer(request, response, signed_in)


@router.post("/login", response_model=AuthOut, summary="Sign in with email and password",
             responses=error_responses(401, 429),
             dependencies=[Depends(rate_limit("login"))])
async def login(data: LoginIn, request: Request, response: Response,
                session: SessionDep) -> AuthOut:
    signed_in = await service.login(request.app.state.runtime, session, data.email, data.password,
                                    _client(request))
    return _answer(request, response, signed_in)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT,
             summary="End this session on every instance", responses=error_responses(401))
async def logout(user: CurrentUser, request: Request, session: SessionDep) -> Response:
    await service.logout(request.app.state.runtime, session, user, _client(request))
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    settings = request.app.state.runtime.settings
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=settings.cookie_secure,
                         samesite=settings.auth.session_cookie_samesite)
    return answer


@router.get("/me", response_model=UserPrivate, summary="The signed-in user",
            responses=error_responses(401))
async def me(user: CurrentUser, request: Request, session: SessionDep) -> Response:
    public = await users_service.load_public_bytes(request.app.state.runtime, session, user.id)
    if public is None:  # deleted between the session check and now
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    # The bytes the fast path answers with, once the profile is in the L1 (cached_answers).
    return private_response(request, private_profile_body(public, user.email, user.role, None))
