"""/api/presence: heartbeats and who is online."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from snaproom_gateway.api.auth import CurrentUser
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.presence import service
from snaproom_gateway.presence.schemas import HeartbeatOut, PresenceMap

router = APIRouter(prefix="/api/presence", tags=["presence"])
MAX_IDS = 100


def parse_user_ids(raw: str) -> list[int]:
    """`1,2,3` -> [1, 2, 3]; anything else is a 400 naming the problem."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "user_ids needs at least one id")
    if len(parts) > MAX_IDS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"user_ids takes at most {MAX_IDS} ids")
    ids = []
    for part in parts:
        if not part.isascii() or not part.isdigit() or not 0 < int(part) <= MAX_ID:
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                f"user_ids: {part[:40]!r} is not a user id")
        ids.append(int(part))
    return list(dict.fromkeys(ids))


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                         "Presence is unavailable right now; retry later")


@router.post("/heartbeat", response_model=HeartbeatOut,
             summary="Mark yourself online for PRESENCE_TTL seconds (300 by default)",
             responses=error_responses(401, 503))
async def heartbeat(user: CurrentUser, request: Request, session: SessionDep) -> HeartbeatOut:
    state = request.app.state.runtime
    try:
        presence, came_online = await service.heartbeat(state, user.id)
    except service.PresenceUnavailable as exc:
        raise _unavailable(exc) from None
    if came_online:
        await service.announce(state, session, user.id, presence)
    return HeartbeatOut(**service.as_json(presence), ttl=state.settings.realtime.presence_ttl)


@router.get("", response_model=PresenceMap, summary="Presence of up to 100 users",
            responses=error_responses(400, 401, 503))
async def get_presence(
    _user: CurrentUser,
    request: Request,
    user_ids: Annotated[str, Query(max_length=2000, description="Comma-separated ids: 1,2,3")],
) -> PresenceMap:
    ids = parse_user_ids(user_ids)
    try:
        found = await service.states(request.app.state.runtime, ids)
    except service.PresenceUnavailable as exc:
        raise _unavailable(exc) from None
    return PresenceMap({str(uid): service.as_json(p) for uid, p in found.items()})
