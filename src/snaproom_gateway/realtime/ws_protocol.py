"""uvicorn's WebSocket protocol, closing open sockets with 1001 (going away) on shutdown.

uvicorn closes every open WebSocket with 1012 (service restart) when it shuts down, before the
lifespan's shutdown runs. 1001 is what a client of a draining instance should see: the endpoint
is going away, reconnect (to another instance). The app's receive loop gets the same code.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

GOING_AWAY = 1001


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    def shutdown(self) -> None:
        if self.close_sent or not self.handshake_complete:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, "Server shutting down")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()
