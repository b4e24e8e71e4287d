"""/api/connections: requests between users, their answers and the lists of each side."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status

from snaproom_gateway.api.auth import CurrentUser
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.api.ratelimit import writes_limited
from snaproom_gateway.cache import domain_cache
from snaproom_gateway.connections import service
from snaproom_gateway.connections.cached_answers import cached_json
from snaproom_gateway.connections.schemas import (
    ConnectionList,
    ConnectionOut,
    ConnectionRequest,
    ConnectionWithPeer,
    Peer,
)
from snaproom_gateway.core.constants import MAX_ID

router = APIRouter(prefix="/api/connections", tags=["connections"])

LIST_CACHE_TTL = 60  # peers' names may change; connection events drop the entry sooner


async def _forget_lists(request: Request, *user_ids: int) -> None:
    # The writer reads its own write at once; other instances hear the event.
    await domain_cache.invalidate_tags(request.app.state.runtime,
                                       [service.cache_tag(uid) for uid in user_ids])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConnectionOut,
             summary="Ask another user to connect (connection.requested)",
             responses=error_responses(400, 401, 404, 409, 429), dependencies=[writes_limited])
async def request_connection(body: ConnectionRequest, user: CurrentUser, request: Request,
                             session: SessionDep) -> ConnectionOut:
    row = await service.request(session, user.id, body.to_user_id)
    await session.commit()
    await _forget_lists(request, row.requester_id, row.addressee_id)
    return ConnectionOut.model_validate(row, from_attributes=True)


async def _answer(connection_id: int, user_id: int, accept: bool, request: Request,
                  session: SessionDep) -> ConnectionOut:
    row = await service.answer(session, connection_id, user_id, accept)
    await session.commit()
    await _forget_lists(request, row.requester_id, row.addressee_id)
    return ConnectionOut.model_validate(row, from_attributes=True)


ConnectionIdPath = Annotated[int, Path(gt=0, le=MAX_ID)]


@router.post("/{connection_id}/accept", response_model=ConnectionOut,
             summary="Accept a request sent to you (connection.accepted)",
             responses=error_responses(401, 403, 404, 409, 429), dependencies=[writes_limited])
async def accept_connection(connection_id: ConnectionIdPath, user: CurrentUser,
                            request: Request, session: SessionDep) -> ConnectionOut:
    return await _answer(connection_id, user.id, True, request, session)


@router.post("/{connection_id}/reject", response_model=ConnectionOut,
             summary="Reject a request sent to you (connection.rejected)",
             responses=error_responses(401, 403, 404, 409, 429), dependencies=[writes_limited])
async def reject_connection(connection_id: ConnectionIdPath, user: CurrentUser,
                            request: Request, session: SessionDep) -> ConnectionOut:
    return await _answer(connection_id, user.id, False, request, session)


def _page(pairs: list, user_id: int) -> bytes:
    items = [ConnectionWithPeer(**ConnectionOut.model_validate(c, from_attributes=True)
                                .model_dump(), user=Peer.model_validate(u, from_attributes=True))
             for c, u in pairs]
    return ConnectionList(items=items).model_dump_json().encode()


@router.get("", response_model=ConnectionList,
            summary="Your accepted connections, newest first (cached)",
            responses=error_responses(401))
async def list_connections(user: CurrentUser, request: Request, session: SessionDep):
    async def build() -> bytes:
        return _page(await service.list_with_peers(session, user.id, status=service.ACCEPTED),
                     user.id)

    return await cached_json(request.app.state.runtime, "/api/connections", {"user": user.id},
                             ttl=LIST_CACHE_TTL, tags=[service.cache_tag(user.id)], build=build)


@router.get("/requests", response_model=ConnectionList,
            summary="Pending requests: sent to you (incoming, default) or by you (outgoing)",
            responses=error_responses(401))
async def list_requests(user: CurrentUser, request: Request, session: SessionDep,
                        direction: Annotated[Literal["incoming", "outgoing"],
                                             Query()] = "incoming"):
    async def build() -> bytes:
        pairs = await service.list_with_peers(
            session, user.id, status=service.PENDING, incoming_only=direction == "incoming",
            outgoing_only=direction == "outgoing")
        return _page(pairs, user.id)

    return await cached_json(request.app.state.runtime, "/api/connections/requests",
                             {"user": user.id, "direction": direction}, ttl=LIST_CACHE_TTL,
                             tags=[service.cache_tag(user.id)], build=build)
