"""GET /ws: the realtime channel. Authenticated by the session cookie or `?token=`.

Server pushes: {"type": "message", "message": {...}}, {"type": "notification", ...},
{"type": "presence", "user_id", "online", "last_seen"}. Client frames: presence:query,
private-message, ping; a bad frame (not JSON, binary, wrong fields, over WS_MAX_FRAME_BYTES, past
the socket's WS_MESSAGE_RATE) gets {"type": "error", "status", "detail"} and the socket stays
open. Closes: 1008 when the session ends or a client keeps flooding past the rate, 1001 when the
server shuts down, 1009 from the server for a frame over its protocol limit (16 MiB).
While a socket is open its user stays online (renewed every PRESENCE_WS_REFRESH seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from snaproom_gateway.api.ws_frames import Ping, PresenceQuery, PrivateMessage, client_frame
from snaproom_gateway.auth import sessions
from snaproom_gateway.core.constants import SESSION_COOKIE
from snaproom_gateway.messages import flows
from snaproom_gateway.messages.exceptions import MessageError
from snaproom_gateway.presence import service as presence
from snaproom_gateway.presence.recheck import RECHECK
from snaproom_gateway.presence.store import PresenceState
from snaproom_gateway.realtime import service as realtime

router = APIRouter(tags=["realtime"])
log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008


class FrameBudget:
    """The socket's token bucket: WS_MESSAGE_RATE frames a second, bursts of WS_MESSAGE_BURST.

    A frame without a token is answered 429 and dropped. Refused frames add to a debt that
    drains at the same rate; a debt past the burst means the client is not slowing down, and the
    socket is closed (1008)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.debt = 0.0
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        elapsed, self._at = now - self._at, now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.debt = max(0.0, self.debt - elapsed * self.rate)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.debt += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.debt > self.burst


def _frame_size(raw: str) -> int:
    return len(raw) if raw.isascii() else len(raw.encode())


def _token(socket: WebSocket) -> str | None:
    auth = socket.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return socket.query_params.get("token") or socket.cookies.get(SESSION_COOKIE)


async def _signed_in_user(state: Any, token: str | None) -> int | None:
    if not token:
        return None
    async with state.sessionmaker() as session:  # the same check as the HTTP routes' CurrentUser
        info = await sessions.resolve(state, session, token)
    return info.user_id if info is not None else None


async def _keep_online(state: Any, user_id: int) -> None:
    while True:
        await asyncio.sleep(state.settings.realtime.presence_ws_refresh)
        try:
            await state.presence.touch(user_id, state.settings.realtime.presence_ttl)
        except Exception as exc:  # Redis away: try again next round
            log.warning("presence refresh of %s failed: %r", user_id, exc)


async def _announce(state: Any, user_id: int, online: bool) -> None:
    try:
        if online:
            seen = await state.presence.touch(user_id, state.settings.realtime.presence_ttl)
        else:
            await state.presence.leave(user_id)
            seen = None
        now = PresenceState(online, seen)
        async with state.sessionmaker() as session:
            await presence.announce(state, session, user_id, now)
        if not online:  # another instance may still hold a socket of this user
            await realtime.push(state, [user_id], {"type": RECHECK})
    except Exception as exc:
        log.warning("presence %s of %s not recorded: %r", "online" if online else "offline",
                    user_id, exc)


def _error(status: int, detail: str, ref: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"type": "error", "status": status, "detail": detail}
    if ref is not None:
        answer["ref"] = ref
    return answer


async def _rate_limited(state: Any, user_id: int) -> dict[str, Any] | None:
    limiter = state.rate_limiter
    settings = state.settings
    if not settings.rate_limits.enabled:
        return None
    decision = await limiter.hit(settings.rate_limits.writes, "writes", f"user:{user_id}")
    if decision is None or decision.allowed:
        return None
    return _error(429, f"Too many requests: the limit is {settings.rate_limits.writes}; "
                       f"retry in {decision.retry_after} s")


async def _answer(state: Any, user_id: int, token: str, raw: str) -> dict[str, Any] | None:
    limit = state.settings.realtime.ws_max_frame_bytes
    if _frame_size(raw) > limit:
        return _error(413, f"Frames are at most {limit} bytes")
    try:
        frame = client_frame.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _error(422, f"{where}: {first['msg']}" if where else first["msg"])
    if isinstance(frame, Ping):
        return {"type": "pong"}
    if isinstance(frame, PresenceQuery):
        try:
            found = await presence.states(state, list(dict.fromkeys(frame.user_ids)))
        except presence.PresenceUnavailable:
            return _error(503, "Presence is unavailable right now")
        return {"type": "presence", "users": {str(uid): presence.as_json(p)
                                              for uid, p in found.items()}}
    assert isinstance(frame, PrivateMessage)
    if await _signed_in_user(state, token) != user_id:  # logged out since the socket opened
        return None
    refused = await _rate_limited(state, user_id)
    if refused is not None:
        refused["ref"] = frame.ref
        return refused
    async with state.sessionmaker() as session:
        try:
            message = await flows.send(state, session, user_id, frame.to_user_id, frame.text)
        except MessageError as exc:
            return _error(exc.status_code, exc.detail, frame.ref)
    return {"type": "message:sent", "ref": frame.ref, "message": message}


@router.websocket("/ws", name="realtime")
async def realtime_socket(socket: WebSocket) -> None:
    state = socket.app.state.runtime
    token = _token(socket)
    user_id = await _signed_in_user(state, token)
    if user_id is None or token is None:
        await socket.close(code=POLICY_VIOLATION, reason="Not authenticated")
        return
    await socket.accept()
    hub = state.realtime_hub
    if hub.add(user_id, socket):
        await _announce(state, user_id, True)
    refresher = asyncio.create_task(_keep_online(state, user_id))
    realtime = state.settings.realtime
    budget = FrameBudget(realtime.ws_message_rate, realtime.ws_message_burst)
    try:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not budget.take():
                if budget.flooding:
                    await socket.close(code=POLICY_VIOLATION, reason="Message rate exceeded")
                    break
                await socket.send_json(_error(
                    429, f"Too many frames: at most {budget.rate:g} a second"))
                continue
            raw = message.get("text")
            if raw is None:
                await socket.send_json(_error(400, "Send JSON text frames"))
                continue
            try:
                answer = await _answer(state, user_id, token, raw)
            except Exception:  # the database is away: say so, keep the socket
                log.exception("realtime frame of user %s failed", user_id)
                answer = _error(503, "Temporarily unavailable; retry later")
            if answer is None:
                await socket.close(code=POLICY_VIOLATION, reason="Session ended")
                break
            await socket.send_json(answer)
    except WebSocketDisconnect:
        pass
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        if hub.remove(user_id, socket):
            await _announce(state, user_id, False)
