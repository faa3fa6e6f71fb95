"""The wallboard's API and socket on the real desk app, database and Redis: who may watch, what it sends."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest
import redis
import uvicorn
import websockets

from sqlalchemy import insert

from agent_desk.db import models as m
from agent_desk.supervision import asr_pool, periods, warnings
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, Wallboard
from hotline.contracts import asr
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


def test_the_standard_figures_of_today_come_from_the_call_records(rig):
    """GET /api/v1/wallboard/standard: today's GB/T 33358 figures by the reports' definitions. Other tests of the
    session leave calls of today in the same database: what these calls add is what is checked."""
    def standard() -> dict:
        response = rig.call("boss", "GET", "/api/v1/wallboard/standard")
        assert response.status_code == 200, response.text
        return response.json()

    before = standard()
    assert before["service_level_seconds"] == 15 and before["short_abandon_seconds"] == 5
    assert before["day"] == periods.today().isoformat()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    def at(seconds: float) -> dt.datetime:
        return start + dt.timedelta(seconds=seconds)

    with rig.app.state.db.session() as s:
        s.execute(insert(m.Call), [
            # arrived, queued after 6 s, answered 10 s later with the caller's words prefilled
            {"call_id": f"{rig.tag}-sb1", "started_at": at(0), "arrived_at": at(0), "queued_at": at(6),
             "answered_at": at(16), "ended_at": at(76), "outcome": "answered", "prefill_usable": True,
             "transfers": []},
            # queued after 4 s, answered after 20 s: not within 15 s; no prefill
            {"call_id": f"{rig.tag}-sb2", "started_at": at(1), "arrived_at": at(1), "queued_at": at(5),
             "answered_at": at(25), "ended_at": at(85), "outcome": "answered", "prefill_usable": False,
             "transfers": []},
            # queued after 2 s, gone 4 s later: a short abandon
            {"call_id": f"{rig.tag}-sb3", "started_at": at(2), "arrived_at": at(2), "queued_at": at(4),
             "ended_at": at(8), "outcome": "abandoned", "transfers": []},
            # still waiting: not offered yet
            {"call_id": f"{rig.tag}-sb4", "started_at": at(3), "queued_at": at(5), "transfers": []},
        ])
    after = standard()
    assert after["offered"] - before["offered"] == 3

    def added(name: str, part: str) -> int:
        return after["metrics"][name][part] - before["metrics"][name][part]

    assert (added("answer", "num"), added("answer", "den")) == (2, 3)
    assert (added("service_level", "num"), added("service_level", "den")) == (1, 3)
    assert (added("short_abandon", "num"), added("abandon", "num")) == (1, 1)
    assert (added("prefill", "num"), added("prefill", "den")) == (1, 2)
    assert (added("wait", "n"), added("to_queue", "n")) == (2, 3)
    if before["metrics"]["wait"]["n"] == 0:   # alone today: the means are these calls' own
        assert after["metrics"]["wait"]["seconds"] == 15.0 and after["metrics"]["to_queue"]["seconds"] == 4.0
    for role in ("agent", "water", "gateway"):
        assert rig.call(role, "GET", "/api/v1/wallboard/standard").status_code == 403


def test_the_asr_pool_state_for_the_board(rig, plain):
    """GET /api/v1/wallboard/asr: workers alive and what was shed in the last minute, from the pool's hashes."""
    now = time.time()
    plain.delete(asr.STATS_KEY, asr.WORKERS_KEY, asr_pool.SAMPLES_KEY)
    try:
        absent = rig.call("boss", "GET", "/api/v1/wallboard/asr").json()
        assert (absent["state"], absent["state_label"], absent["workers"]["known"]) == ("absent", "未接入", 0)

        plain.hset(asr.STATS_KEY, mapping={"jobs": 50, "ok": 40, "shed": 9, "lost": 1, "failed": 0})
        plain.hset(asr.WORKERS_KEY, mapping={"asr-a": json.dumps({"at": now, "done": 20, "busy": True}),
                                             "asr-b": json.dumps({"at": now - 600, "done": 20, "busy": False})})
        plain.set(asr_pool.SAMPLES_KEY, json.dumps([{"at": now - 65, "jobs": 30, "ok": 26, "shed": 3, "lost": 1,
                                                     "failed": 0}]))
        board = rig.call("admin", "GET", "/api/v1/wallboard/asr").json()
        assert (board["state"], board["state_label"]) == ("busy", "转写繁忙")
        assert board["workers"] == {"known": 2, "alive": 1, "busy": 1}
        assert board["totals"]["shed"] == 9 and board["interval"]["shed"] == 6 and board["interval"]["jobs"] == 20
        assert board["interval"]["seconds"] >= 65
        kept = json.loads(plain.get(asr_pool.SAMPLES_KEY))   # this reading is kept for the next interval
        assert len(kept) == 2 and kept[-1]["shed"] == 9
        for role in ("agent", "water", "gateway"):
            assert rig.call(role, "GET", "/api/v1/wallboard/asr").status_code == 403
    finally:
        plain.delete(asr.STATS_KEY, asr.WORKERS_KEY, asr_pool.SAMPLES_KEY)
