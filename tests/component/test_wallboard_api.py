"""The wallboard's API and socket on the real desk app, database and Redis: who may watch, what it sends."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
import uvicorn
import websockets

from agent_desk.supervision import warnings
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, Wallboard
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.ports import free_port
from tests.support.wallboard import recorded, stamp


@pytest.fixture
def plain(redis_server):
    client = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    client.delete(SNAPSHOT_KEY)
    yield client
    client.delete(SNAPSHOT_KEY)
    client.close()


def test_only_supervisors_and_admins_read_the_board(rig, plain):
    assert rig.client.get("/api/v1/wallboard").status_code == 401
    for role in ("agent", "water", "gateway"):
        response = rig.call(role, "GET", "/api/v1/wallboard")
        assert response.status_code == 403 and response.json()["error"] == "forbidden_role"
    missing = rig.call("boss", "GET", "/api/v1/wallboard")
    assert missing.status_code == 503 and "电话系统" in missing.json()["message"]

    board = Wallboard.from_plan(load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"))
    events = recorded()
    for event in events:
        board.apply(event)
    plain.set(SNAPSHOT_KEY, json.dumps(board.snapshot(stamp(events[-1]))))
    for role in ("boss", "admin"):
        snap = rig.call(role, "GET", "/api/v1/wallboard").json()
        assert snap["type"] == "snapshot" and (snap["totals"]["answered"], snap["totals"]["abandoned"]) == (1, 1)
        assert "13907550002" not in json.dumps(snap)   # no caller numbers on the board


async def test_the_socket_sends_the_board_and_the_active_alerts_then_forwards_the_channel(rig, plain):
    """Over a real socket (uvicorn): the snapshot and the alerts on connect, then the channel; other roles 4403."""
    alert = {"id": "w00000000000abc", "title": "测试预警", "count": 5, "tickets": ["20260601000001"]}
    plain.set(SNAPSHOT_KEY, json.dumps({"type": "snapshot", "version": 7, "connected": True}))
    plain.hset(warnings.ACTIVE, alert["id"], json.dumps(alert))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(rig.app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    url = f"ws://127.0.0.1:{port}/ws/wallboard"
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        async with websockets.connect(url, additional_headers=rig.as_("boss")) as socket:
            assert json.loads(await socket.recv()) == {"type": "snapshot", "version": 7, "connected": True}
            alerts = json.loads(await socket.recv())
            assert alerts["type"] == "alerts" and alert in alerts["alerts"]
            for _ in range(100):   # subscribed before the first message: wait for Redis to count it
                if dict(plain.pubsub_numsub(warnings.CHANNEL)).get(warnings.CHANNEL):
                    break
                await asyncio.sleep(0.02)
            plain.publish(warnings.CHANNEL, json.dumps({"type": "alert_cleared", "id": alert["id"]}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "alert_cleared", "id": alert["id"]}
        for role, code in (("agent", 4403), ("water", 4403)):
            async with websockets.connect(url, additional_headers=rig.as_(role)) as refused:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(refused.recv(), 5)
            assert closed.value.rcvd.code == code
        async with websockets.connect(url) as anonymous:   # no session: closed with the code the page reads
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(anonymous.recv(), 5)
        assert closed.value.rcvd.code == 4401
    finally:
        plain.hdel(warnings.ACTIVE, alert["id"])
        server.should_exit = True
        await serving
