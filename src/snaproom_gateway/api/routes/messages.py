"""/api/messages: send to a connection, read a conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from snaproom_gateway.api.auth import CurrentUser
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.api.ratelimit import writes_limited
from snaproom_gateway.cache.http import private_response
from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.messages import flows
from snaproom_gateway.messages.cached_answers import NEWEST_PAGE_LIMIT
from snaproom_gateway.messages.schemas import MessageCreate, MessageOut, MessagePage
from snaproom_gateway.users import service as users_service

router = APIRouter(prefix="/api/messages", tags=["messages"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MessageOut,
             summary="Send a message to one of your connections (message.sent)",
             responses=error_responses(400, 401, 403, 404, 429), dependencies=[writes_limited])
async def send_message(body: MessageCreate, user: CurrentUser, request: Request,
                       session: SessionDep) -> MessageOut:
    message = await flows.send(request.app.state.runtime, session, user.id, body.to_user_id,
                               body.text)
    return MessageOut.model_validate(message)


@router.get("/{user_id}", response_model=MessagePage,
            summary="Your conversation with a user, newest page first (the last 50 cached)",
            responses=error_responses(400, 401, 404))
async def read_conversation(
    user_id: Annotated[int, Path(gt=0, le=MAX_ID)],
    user: CurrentUser,
    request: Request,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = NEWEST_PAGE_LIMIT,
    before: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                        description="Only messages with a smaller id")] = None,
) -> Response:
    if user_id == user.id:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "A conversation needs another user")
    state = request.app.state.runtime
    if await users_service.load_public_bytes(state, session, user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "User not found")
    if before is None and limit == NEWEST_PAGE_LIMIT:
        body = await flows.newest_page(state, user.id, user_id)  # the fast path's entry
    else:
        items = await flows.read(state, session, user.id, user_id, limit=limit, before=before)
        body = flows.page_json(items, limit)
    return private_response(request, body)
