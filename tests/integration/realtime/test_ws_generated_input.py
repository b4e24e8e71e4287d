"""/ws under generated input (issue 15, part 5), on a real uvicorn server over PostgreSQL and
Redis: frames that are not JSON, binary, of the wrong types, over WS_MAX_FRAME_BYTES, or a flood
past WS_MESSAGE_RATE. Each gets {"type": "error"} (or a close with a documented code), the worker
never crashes, and another socket of the same server is unaffected.

Hypothesis drives a synchronous client against a server running in its own thread and loop, so
every example is a fresh socket on the same server.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from snaproom_gateway.api.app import create_app
from tests.support.domain_stack import unique
from tests.support.social_api import free_port
from tests.support.users_api import PASSWORD

pytestmark = pytest.mark.integration

FRAME_LIMIT = 1024
# A slow refill: the flood must pass the burst even if this shared machine handles frames slowly.
RATE, BURST = 5.0, 20
ANSWERS = {"error", "pong", "presence", "message:sent"}
DOCUMENTED_CLOSES = {1008, 1009}


@pytest.fixture(scope="module")
def ws_server(settings):  # `settings`: the social tests' stack settings (PostgreSQL, Redis)
    configured = settings.with_changes(**{
        "ws_max_frame_bytes": FRAME_LIMIT, "ws_message_rate": RATE, "ws_message_burst": BURST})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(configured), host="127.0.0.1", port=port,
                                           lifespan="on", log_level="warning",
                                           ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, name="ws-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    tokens = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for _ in range(2):
            name = unique("ws")
            answer = client.post("/api/auth/signup", json={
                "email": f"{name}@example.com", "username": name, "password": PASSWORD})
            assert answer.status_code == 201, answer.text
            tokens.append(answer.json()["token"])
    try:
        yield f"127.0.0.1:{port}", tokens
    finally:
        server.should_exit = True
        thread.join(30)


def _socket(address: str, token: str) -> ClientConnection:
    return connect(f"ws://{address}/ws?token={token}", open_timeout=20, close_timeout=5,
                   max_size=None)


def _reply(conn: ClientConnection) -> dict | None:
    """The next answer, or None when the server closed the socket with a documented code."""
    try:
        frame = orjson.loads(conn.recv(timeout=20))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code in DOCUMENTED_CLOSES, closed
        return None
    assert isinstance(frame, dict) and frame.get("type") in ANSWERS, frame
    if frame["type"] == "error":
        assert isinstance(frame["status"], int) and 400 <= frame["status"] < 600, frame
        assert isinstance(frame["detail"], str) and frame["detail"], frame
    return frame


def _still_answers(address: str, token: str) -> None:
    with _socket(address, token) as conn:
        conn.send('{"type": "ping"}')
        assert orjson.loads(conn.recv(timeout=20)) == {"type": "pong"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=20)
typed_frames = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "presence:query", "private-message", "nope", ""]) | json_values},
    optional={"user_ids": json_values | st.lists(st.integers(), max_size=120),
              "to_user_id": json_values, "text": json_values, "ref": json_values})
frames = st.one_of(
    st.text(max_size=200),  # mostly not JSON
    st.binary(max_size=200),  # binary frames
    json_values.map(json.dumps),  # JSON, not an object of ours (big integers included)
    typed_frames.map(json.dumps),  # our shapes, wrong types
    st.integers(FRAME_LIMIT + 1, FRAME_LIMIT * 64).map(  # over the limit
        lambda n: '{"type": "ping", "pad": "' + "x" * n + '"}'),
    st.just("[" * 5000 + "]" * 5000),  # nested deeper than any parser recursion limit
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_every_generated_frame_gets_an_error_or_an_answer_and_other_sockets_are_unaffected(
        ws_server, batch):
    address, (fuzzed, bystander) = ws_server
    with _socket(address, bystander) as other, _socket(address, fuzzed) as conn:
        for frame in batch:
            try:
                conn.send(frame)
            except ConnectionClosed:
                break
            if _reply(conn) is None:
                break
        else:  # every frame answered: the socket still serves
            conn.send('{"type": "ping"}')
            assert _reply(conn) == {"type": "pong"}
        other.send('{"type": "ping"}')
        assert orjson.loads(other.recv(timeout=20)) == {"type": "pong"}


def test_a_flood_gets_429_then_a_1008_close_and_the_other_socket_is_unaffected(ws_server):
    address, (flooder, bystander) = ws_server
    statuses, closed = [], None
    with _socket(address, bystander) as other, _socket(address, flooder) as conn:
        for _ in range(BURST * 5):  # far past the burst, faster than the rate refills it
            try:
                conn.send('{"type": "ping"}')
            except ConnectionClosed as exc:
                closed = exc
                break
        try:
            while True:
                frame = orjson.loads(conn.recv(timeout=20))
                statuses.append(frame.get("status", frame["type"]))
        except ConnectionClosed as exc:
            closed = exc
        other.send('{"type": "ping"}')
        assert orjson.loads(other.recv(timeout=20)) == {"type": "pong"}
    assert statuses[:BURST] == ["pong"] * BURST  # the burst is served
    assert 429 in statuses
    assert closed is not None and closed.rcvd is not None and closed.rcvd.code == 1008
    assert closed.rcvd.reason == "Message rate exceeded"
    _still_answers(address, flooder)  # a new socket of the same user is served again


def test_a_frame_over_the_server_limit_closes_1009_and_the_server_goes_on(ws_server):
    address, (sender, bystander) = ws_server
    with _socket(address, sender) as conn:
        conn.send("x" * (16 * 2**20 + 1))  # past uvicorn's ws_max_size (16 MiB)
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    _still_answers(address, bystander)
