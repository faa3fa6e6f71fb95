"""The live wallboard end to end: the real Asterisk (the session's center), the desk under uvicorn with its
listener (its own AMI connection) publishing to a real Redis, a supervisor's real WebSocket. Calls ring a test
agent's softphone (the peer Asterisk, over SIP); one waits and is abandoned; the agent pauses with a reason;
then Asterisk restarts under the board, which says it is disconnected and is rebuilt once Asterisk is back. The
GB/T 33358 figures of the day (from the call records) count the call answered after its wait and the abandon."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest
import redis
import websockets

from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.supervision.wallboard import SNAPSHOT_KEY
from agent_desk.telephony import LiveCall, agents
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from tests.support.agents import CITIZEN, hang_up_call, logged_in, softphones, wait_registered
from tests.support.center import Center, ami_back
from tests.support.desk import center_desk

pytestmark = pytest.mark.asterisk
WAIT_BEFORE_ANSWER = 3   # seconds the first call waits (its agent ringing) before the softphone answers


class Board:
    """The supervisor's socket: every snapshot it receives, and waiting for one that satisfies a check."""

    def __init__(self, socket):
        self.socket, self.last = socket, None

    async def until(self, check, what: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the board never showed {what}; last snapshot: {json.dumps(self.last)[:1500]}")
            try:
                message = json.loads(await asyncio.wait_for(self.socket.recv(), remaining))
            except TimeoutError:
                continue
            if message.get("type") != "snapshot":
                continue
            self.last = message
            with contextlib.suppress(KeyError, StopIteration):
                if check(message):
                    return message


def agent(snap: dict, extension: str) -> dict:
    return next(a for a in snap["agents"] if a["extension"] == extension)


def province(snap: dict) -> dict:
    return next(q for q in snap["queues"] if q["queue"] == GENERAL_QUEUE)


async def place_call(center: Center) -> str:
    cid = center.new_call_id()
    await center.ami.originate(
        "Local/s@hotline-queue", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid, data="600",
        variables={f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12318",
                   f"__{v.SUBPLATFORM}": "469002"})
    return cid


async def standard_until(rig, check, what: str, timeout: float = 15) -> dict:
    """Today's standard figures (GET /api/v1/wallboard/standard) once they satisfy ``check``: the listener
    stores call events a moment after the board shows them."""
    deadline = time.monotonic() + timeout
    while True:
        response = await asyncio.to_thread(rig.call, "boss", "GET", "/api/v1/wallboard/standard")
        assert response.status_code == 200, response.text
        figures = response.json()
        if check(figures):
            return figures
        if time.monotonic() > deadline:
            raise AssertionError(f"the standard figures never showed {what}: {figures}")
        await asyncio.sleep(0.2)


def call_row(rig, call_id: str) -> m.Call:
    with rig.app.state.db.session() as session:
        row = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
        assert row is not None, call_id
        session.expunge(row)
        return row



async def test_the_wallboard_follows_queues_and_agents_and_survives_an_asterisk_restart(center: Center, redis_server,
                                                                                         new_database):
    extension = softphones(center)[0]
    stale = redis.Redis.from_url(redis_server.authenticated_url)
    stale.delete(SNAPSHOT_KEY)   # the first snapshot waited for below is this desk's
    stale.close()
    async with center_desk(center, new_database("sqlite"), redis_server.authenticated_url) as desk:
        await watch_the_board(center, desk.rig, desk.url.replace("http", "ws") + "/ws/wallboard", extension)


async def watch_the_board(center: Center, rig, url: str, extension: str) -> None:
    plain = rig.app.state.settings.sync_redis()
    try:
        for _ in range(100):   # the first snapshot: rebuilt from QueueStatus after the listener's login
            if plain.get(SNAPSHOT_KEY):
                break
            await asyncio.sleep(0.05)

        # Agents may not watch the board: the socket is accepted, then closed with 4403.
        async with websockets.connect(url, additional_headers=rig.as_("agent")) as refused:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(refused.recv(), 10)
        assert closed.value.rcvd.code == 4403

        async with websockets.connect(url, additional_headers=rig.as_("boss")) as socket:
            board = Board(socket)
            first = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert first["type"] == "snapshot" and first["connected"] is True, first
            alerts = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert alerts["type"] == "alerts" and isinstance(alerts["alerts"], list)
            answered0, abandoned0 = first["totals"]["answered"], first["totals"]["abandoned"]

            async with logged_in(center, extension, [GENERAL_QUEUE]):
                await board.until(lambda s: agent(s, extension)["state"] == "idle", "the agent logged in, idle")

                # 1. The softphone does not answer yet: a waiting call, the agent ringing.
                await center.peer_ami.action({"Action": "DBPut", "Family": "softphone", "Key": extension,
                                              "Val": "noanswer"})
                try:
                    mark = center.peer_events.mark()
                    cid = await place_call(center)
                    snap = await board.until(lambda s: province(s)["waiting"] == 1
                                             and province(s)["longest_wait"] >= WAIT_BEFORE_ANSWER
                                             and agent(s, extension)["state"] == "ringing",
                                             f"a call waiting {WAIT_BEFORE_ANSWER} s while the agent rings")
                    assert snap["totals"]["waiting"] == 1
                    assert next(r for r in snap["lines"] if r["line"] == "12318")["waiting"] == 1
                    assert next(r for r in snap["subplatforms"] if r["code"] == "469002")["name"] == "琼海"
                    assert agent(snap, extension)["call_id"] == cid
                finally:
                    await center.peer_ami.action({"Action": "DBDel", "Family": "softphone", "Key": extension})
                # 2. The softphone answers (the peer's ringing leg is sent back into its answering dialplan).
                ringing = await center.peer_events.wait_for(
                    lambda e: e.name == "Newchannel" and e.get("Exten") == extension, 10, "the softphone rings",
                    since=mark)
                await center.peer_ami.action({"Action": "Redirect", "Channel": ringing["Channel"],
                                              "Context": "softphone", "Exten": extension, "Priority": "1"})
                snap = await board.until(lambda s: agent(s, extension)["state"] == "on_call"
                                         and s["totals"]["answered"] == answered0 + 1, "the agent on the call")
                assert province(snap)["waiting"] == 0 and snap["totals"]["waiting"] == 0
                # The standard figures count it: answered after the wait Asterisk reports, within 15 s.
                connect = await center.events.wait_for(
                    lambda e: e.name == "AgentConnect" and e.vars.get(v.CALL_ID) == cid, 10, "the AgentConnect")
                hold = int(connect["HoldTime"])
                assert hold >= WAIT_BEFORE_ANSWER
                std = await standard_until(rig, lambda f: f["metrics"]["answer"]["num"] == 1, "the answered call")
                row = call_row(rig, cid)
                waited = (row.answered_at - row.queued_at).total_seconds()
                assert abs(waited - hold) <= 1, (waited, hold)   # the desk's clock is Asterisk's event stamps
                assert row.arrived_at is not None and row.arrived_at <= row.queued_at   # the inbound channel's birth
                assert row.prefill_usable is False   # no IVR before this queue: nothing prefilled
                m = std["metrics"]
                assert std["offered"] == 1 and m["answer"] == {"num": 1, "den": 1, "rate": 1.0}
                assert m["service_level"]["num"] == (1 if waited <= std["service_level_seconds"] else 0)
                assert m["wait"] == {"seconds": round(waited, 1), "n": 1}
                assert m["to_queue"]["n"] == 1 and 0 <= m["to_queue"]["seconds"] < 5
                assert m["prefill"] == {"num": 0, "den": 1, "rate": 0.0}
                await hang_up_call(center, LiveCall(cid, "", ""))
                snap = await board.until(lambda s: agent(s, extension)["state"] == "wrapup", "the wrap-up")
                assert snap["totals"]["avg_handle_seconds"] is not None

                # 3. Paused with a reason; a call waits and hangs up: abandoned.
                await agents.pause(center.ami, extension, "培训")
                await board.until(lambda s: agent(s, extension)["state"] == "paused"
                                  and agent(s, extension)["reason"] == "培训", "the agent paused for 培训")
                cid2 = await place_call(center)
                await board.until(lambda s: province(s)["waiting"] == 1, "the second call waiting")
                await hang_up_call(center, LiveCall(cid2, "", ""))
                snap = await board.until(lambda s: s["totals"]["abandoned"] == abandoned0 + 1, "the abandoned call")
                assert province(snap)["waiting"] == 0 and snap["totals"]["answered"] == answered0 + 1
                std = await standard_until(rig, lambda f: f["offered"] == 2, "the abandoned call offered")
                gone = call_row(rig, cid2)
                short = (gone.ended_at - gone.queued_at).total_seconds() <= std["short_abandon_seconds"]
                assert std["metrics"]["answer"] == {"num": 1, "den": 2, "rate": 0.5}
                assert std["metrics"]["abandon"]["num"] == 1 and std["metrics"]["short_abandon"]["num"] == int(short)

                # 4. Asterisk restarts: the board says it lost the phone system, then is rebuilt from it.
                await asyncio.to_thread(center.asterisk.down)
                await board.until(lambda s: s["connected"] is False, "the phone system disconnected")
                await asyncio.to_thread(center.asterisk.up)
                snap = await board.until(lambda s: s["connected"] is True
                                         and agent(s, extension)["state"] == "paused", "the board rebuilt", 45)
                assert agent(snap, extension)["reason"] == "培训" and GENERAL_QUEUE in agent(snap, extension)["queues"]
                assert snap["totals"]["waiting"] == 0 and province(snap)["waiting"] == 0   # no phantom callers
                assert (snap["totals"]["answered"], snap["totals"]["abandoned"]) == (answered0 + 1, abandoned0 + 1)
                await ami_back(center)   # the session's own AMI client has logged in again too
                await agents.unpause(center.ami, extension)
                await board.until(lambda s: agent(s, extension)["state"] in ("idle", "unavailable"), "the unpause")
            await board.until(lambda s: agent(s, extension)["state"] == "logged_out", "the agent logged out")
        for phone in softphones(center):   # the next scenarios find every softphone registered again
            assert (await wait_registered(center, phone, timeout=30)).registered, phone
    finally:
        plain.close()
