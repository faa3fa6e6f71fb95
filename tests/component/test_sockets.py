"""The desk's WebSockets re-check the session while open (logout closes the socket within seconds) and accept a
browser's handshake only from the desk's own pages (Origin)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.support.desk import close_rig, make_rig


@pytest.fixture
def rig(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url, socket_recheck=dt.timedelta(seconds=0.3))
    yield rig
    close_rig(rig)


@pytest.mark.parametrize("path, who", [("/ws/desk", "agent"), ("/ws/wallboard", "boss")])
def test_a_socket_is_closed_within_seconds_of_logout(rig, path, who):
    headers = rig.as_(who)
    with rig.client.websocket_connect(path, headers=headers) as socket:
        assert socket.receive_json()["type"] in ("hello", "unavailable", "snapshot")
        assert rig.client.post("/api/v1/auth/logout", headers=headers).status_code == 200
        started = time.monotonic()
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                socket.receive_json()
        assert closed.value.code == 4401
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("origin, code", [("http://evil.example", 4403), ("http://testserver.evil.example", 4403)])
def test_a_handshake_from_another_site_is_refused(rig, origin, code):
    with pytest.raises(WebSocketDisconnect) as closed:
        with rig.client.websocket_connect("/ws/desk", headers={**rig.as_("agent"), "Origin": origin}) as socket:
            socket.receive_json()
    assert closed.value.code == code


def test_a_handshake_from_the_desks_own_page_is_accepted(rig):
    # Starlette's test client connects sockets to the host "testserver": the page's origin is that host.
    with rig.client.websocket_connect("/ws/desk",
                                      headers={**rig.as_("agent"), "Origin": "http://testserver"}) as socket:
        assert socket.receive_json()["type"] == "hello"
