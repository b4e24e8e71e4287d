"""/api/users: the list, a profile, and the signed-in user's own profile and deletion."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from snaproom_gateway.analytics import service as analytics_service
from snaproom_gateway.api.auth import CurrentUser, OptionalUser
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.api.ratelimit import writes_limited
from snaproom_gateway.cache import domain_cache
from snaproom_gateway.cache.http import cached_response, private_response
from snaproom_gateway.core.constants import MAX_ID, SESSION_COOKIE
from snaproom_gateway.users import deletion
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.cache_tags import USERS_LIST_TAG
from snaproom_gateway.users.cached_answers import private_profile_body
from snaproom_gateway.users.schemas import (
    DEFAULT_PAGE,
    DEFAULT_PAGE_SIZE,
    DeletionAccepted,
    UserPage,
    UserPrivate,
    UserPublic,
    UserUpdate,
)

router = APIRouter(prefix="/api/users", tags=["users"])

LIST_CACHE_TTL = 300


@router.get("", response_model=UserPage, summary="Active users, a page at a time (cached)")
async def list_users(
    request: Request,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = DEFAULT_PAGE,
    size: Annotated[int, Query(ge=1, le=100)] = DEFAULT_PAGE_SIZE,
) -> Response:
    state, params = request.app.state.runtime, {"page": page, "size": size}
    cached = await domain_cache.get_api_response(state, "/api/users", params)
    if cached is not None:
        body = cached if isinstance(cached, bytes) else orjson.dumps(cached)
        return Response(body, media_type="application/json", headers={"X-Cache": "HIT"})
    users, total = await users_service.list_active(session, page, size)
    answer = UserPage(items=[UserPublic.model_validate(users_service.public_profile(u))
                             for u in users],
                      page=page, size=size, total=total)
    body = answer.model_dump_json().encode()
    await domain_cache.cache_api_response(state, "/api/users", params, body,
                                          ttl=LIST_CACHE_TTL, tags=(USERS_LIST_TAG,))
    return Response(body, media_type="application/json", headers={"X-Cache": "MISS"})


@router.get("/{user_id}", response_model=UserPrivate | UserPublic,
            summary="A public profile; its owner also sees email, role and profile_views",
            description="Readable without a session (anonymous answers may come straight from "
            "the cache). A signed-in viewer other than the owner is counted as a profile view; "
            "signed-in answers are `Cache-Control: private`.",
            responses=error_responses(404))
async def get_user(
    user_id: Annotated[int, Path(gt=0, le=MAX_ID)],
    viewer: OptionalUser,
    request: Request,
    session: SessionDep,
) -> UserPrivate | UserPublic:
    state = request.app.state.runtime
    body = await users_service.load_public_bytes(state, session, user_id)
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "User not found")
    if viewer is None:
        # The cached bytes as they are, with a strong ETag: the same answer the fast path gives.
        return cached_response(request, body)
    if viewer.id == user_id:
        views = await analytics_service.cached_views(state, user_id)
        body = private_profile_body(body, viewer.email, viewer.role, views)
    else:
        state.profile_views.record(user_id)  # written in batches (analytics/views.py)
    return private_response(request, body)


@router.patch("/me", response_model=UserPrivate, summary="Change the signed-in user's profile",
              responses=error_responses(401, 429), dependencies=[writes_limited])
async def update_me(changes: UserUpdate, user: CurrentUser, request: Request,
                    session: SessionDep) -> UserPrivate:
    fields = changes.changes()
    row = await users_service.get(session, user.id)
    if row is None or row.status != users_service.ACTIVE:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    await users_service.update_profile(session, row, fields)
    await session.commit()
    views = await analytics_service.views_of(session, user.id)
    return UserPrivate.model_validate({**users_service.snapshot(row), "profile_views": views})


@router.delete("/me", status_code=status.HTTP_202_ACCEPTED, response_model=DeletionAccepted,
               summary="Delete the signed-in user's account (a saga; sessions end now)",
               responses=error_responses(401, 409, 429), dependencies=[writes_limited])
async def delete_me(user: CurrentUser, request: Request, session: SessionDep,
                    response: Response) -> DeletionAccepted:
    row = await users_service.get(session, user.id)
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    await deletion.start(request.app.state.runtime, session, row)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return DeletionAccepted(status="deleting",
                            detail="Sessions are revoked; the account's data is being removed")
