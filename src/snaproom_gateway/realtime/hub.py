"""The WebSocket connections this instance holds, by user, and delivery to them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

SEND_TIMEOUT = 2.0  # a client that does not read for this long is dropped, not waited for


class LocalHub:
    def __init__(self) -> None:
        self._sockets: dict[int, set[WebSocket]] = {}

    def add(self, user_id: int, socket: WebSocket) -> bool:
        """Register a socket; True when it is the user's first one here."""
        sockets = self._sockets.setdefault(user_id, set())
        sockets.add(socket)
        return len(sockets) == 1

    def remove(self, user_id: int, socket: WebSocket) -> bool:
        """Forget a socket; True when the user has no socket left here."""
        sockets = self._sockets.get(user_id)
        if sockets is None:
            return False
        sockets.discard(socket)
        if not sockets:
            del self._sockets[user_id]
            return True
        return False

    def users(self) -> list[int]:
        return list(self._sockets)

    def count(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    async def deliver(self, user_ids: list[int], payload: dict[str, Any]) -> None:
        targets = [s for uid in set(user_ids) for s in self._sockets.get(uid, ())]
        if targets:
            await asyncio.gather(*(self._send(s, payload) for s in targets))

    async def _send(self, socket: WebSocket, payload: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(socket.send_json(payload), SEND_TIMEOUT)
        except Exception as exc:  # gone or stuck: its own receive loop cleans up
            log.info("dropping a realtime push to a socket: %r", exc)
