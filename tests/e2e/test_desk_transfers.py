"""The desk's transfer buttons, end to end: a citizen's call reaches an agent's softphone (the peer) through the
real queue; the agent's desk (the real app, with the listener's AMI link) hands it off over HTTP. Assertions
read AMI (who shares which conference), the call row, the ticket's history, and the audit log.

- 三方转接 to 12366: all three in one ConfBridge; the agent leaves; the citizen and the sub-center stay.
- 12366 does not answer: the citizen is still with the agent and the agent's unsaved form becomes a ticket
  dispatched to 国家税务总局海南省税务局, with the failed transfer in its history.
- 紧急联动 119 from the desk: the linkage is recorded on the call.
- The call's recording plays for its agent and supervisors (audited), not for another agent.
- Without a phone link the buttons answer 503 in Chinese; only agents may transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.telephony import conference_members, recordings_dir
from agent_desk.telephony._ami import getvar
from hotline import channelvars as v
from tests.support.agents import citizen_reaches_agent, hang_up_everything, logged_in, peer_mode, softphones
from tests.support.center import Center
from tests.support.desk import DeskRig, close_rig, listening, make_rig
from tests.support.events import named

pytestmark = pytest.mark.asterisk

TAX = "国家税务总局海南省税务局"


@pytest.fixture(scope="module")
async def desk(center: Center, new_database, redis_server):
    """The real desk app on SQLite + Redis, its agent bound to a softphone, the listener on the center's AMI."""
    directory = recordings_dir(center.site)
    rig = make_rig(new_database("sqlite"), redis_server.authenticated_url, recordings_dir=directory,
                   recordings_host_dir=str(center.asterisk.host_path(directory)))
    extension = softphones(center)[-1]
    with rig.app.state.db.session() as session:
        session.scalar(select(m.User).where(m.User.username == rig.user("agent"))).extension = extension
        session.add(m.OrgUnit(code=f"{rig.tag}-tax", name=TAX, kind="member_unit", level="province"))
    try:
        async with listening(rig, center, directory) as listener:
            rig.extension, rig.listener = extension, listener
            yield rig
    finally:
        close_rig(rig)


@contextlib.asynccontextmanager
async def on_a_call(center: Center, desk: DeskRig):
    async with logged_in(center, desk.extension):
        call = await citizen_reaches_agent(center, desk.extension)
        await wait_for_row(desk, call.call_id)
        try:
            yield call
        finally:
            await hang_up_everything(center)


async def wait_for_row(desk: DeskRig, call_id: str, timeout: float = 10) -> m.Call:
    """The listener has written the answered call (the desk saves tickets against it)."""
    deadline = time.monotonic() + timeout
    while True:
        await desk.listener.drain()
        with desk.app.state.db.session() as session:
            row = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
            if row is not None and row.answered_at is not None:
                session.expunge(row)
                return row
        assert time.monotonic() < deadline, f"call {call_id} not recorded by the listener"
        await asyncio.sleep(0.1)


def api(desk: DeskRig) -> httpx.AsyncClient:
    """HTTP to the app in this event loop (the AMI link lives here, as in ``hotline run``)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=desk.app), base_url="http://127.0.0.1", timeout=90)


async def test_three_way_from_the_desk_then_the_agent_leaves(center: Center, desk: DeskRig) -> None:
    async with on_a_call(center, desk) as call, api(desk) as http:
        targets = (await http.get("/api/v1/calls/transfer-targets", headers=desk.as_("agent"))).json()
        assert {t["number"] for t in targets["sub_centers"]} == {"12360", "12366", "12305"}
        assert {t["number"] for t in targets["emergency"]} == {"110", "119", "120", "122"}

        reply = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("agent"),
                                json={"kind": "three_way", "target": "12366", "agent_stays": True})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        result = body["result"]
        assert result["outcome"] == "bridged" and result["agent_stayed"] is True, body
        assert body["pending"] == "leave" and "纳税服务热线" in body["message"]
        members = set(await conference_members(center.ami, result["conference"]))
        assert members == {call.citizen_channel, call.agent_channel, result["far_channel"]}

        left = await http.post("/api/v1/calls/current/transfer/leave", headers=desk.as_("agent"))
        assert left.status_code == 200, left.text
        assert set(left.json()["remaining"]) == {call.citizen_channel, result["far_channel"]}
        assert await getvar(center.ami, call.citizen_channel, "CHANNEL(name)") == call.citizen_channel

        again = await http.post("/api/v1/calls/current/transfer/leave", headers=desk.as_("agent"))
        assert again.status_code == 409 and again.json()["message"] == "当前没有进行中的三方通话"

    with desk.app.state.db.session() as session:
        row = session.scalar(select(m.Call).where(m.Call.call_id == call.call_id))
        outcomes = [(e["Kind"], e["Target"], e["Outcome"]) for e in row.transfers if e.get("TransferID")]
        audited = session.scalars(select(m.AuditEntry).where(m.AuditEntry.object_id == call.call_id,
                                                             m.AuditEntry.action == "transfer")).all()
    # Written by the desk at once and again by the listener from the user event: stored once.
    assert outcomes.count(("three_way", "12366", "bridged")) == 1, row.transfers
    assert ("three_way", "12366", "agent_left") in outcomes
    assert [a.username for a in audited] == [desk.user("agent")]


async def test_sub_center_no_answer_dispatches_the_agents_form_to_the_sub_center(center: Center,
                                                                                desk: DeskRig) -> None:
    async with on_a_call(center, desk) as call, api(desk) as http:
        draft = {"title": "咨询个人所得税汇算清缴退税进度", "content": "市民咨询去年个税汇算的退税何时到账。",
                 "appeal_type": "consultation", "citizen_phone": "13800000001"}
        async with peer_mode(center, "gateway", "12366", "noanswer"):
            reply = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("agent"),
                                    json={"kind": "three_way", "target": "12366", "draft": draft})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["result"]["outcome"] == "no_answer" and body["result"]["fallback"] == "agent", body
        number = body["ticket"]
        assert number and f"已生成工单{number}并派至{TAX}" in body["message"]
        # The citizen never left the agent.
        assert await getvar(center.ami, call.agent_channel, "BRIDGEPEER") == call.citizen_channel

        ticket = (await http.get(f"/api/v1/tickets/{number}", headers=desk.as_("agent"))).json()
        assert ticket["state"] == "dispatched" and ticket["host_unit"] == f"{desk.tag}-tax"
        assert ticket["call_id"] == call.call_id and ticket["title"] == draft["title"]
        transfer = [h for h in ticket["history"] if h["action"] == "transfer"]
        assert len(transfer) == 1 and transfer[0]["data"]["Outcome"] == "no_answer", ticket["history"]
        assert transfer[0]["data"]["Target"] == "12366" and transfer[0]["action_label"] == "转接/联动"
        assert [h["action"] for h in ticket["history"]] == ["accept", "transfer", "dispatch"]


async def test_emergency_linkage_from_the_desk_is_recorded(center: Center, desk: DeskRig) -> None:
    async with on_a_call(center, desk) as call, api(desk) as http:
        mark = center.events.mark()
        reply = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("agent"),
                                json={"kind": "emergency", "target": "119", "agent_stays": False})
        assert reply.status_code == 200, reply.text
        result = reply.json()["result"]
        assert result["kind"] == "emergency" and result["outcome"] == "bridged" and not result["agent_stayed"]
        await center.events.wait_for(named("UserEvent", UserEvent="HotlineLinkage", CallID=call.call_id,
                                           Target="119"), 10, "the linkage event", since=mark)
        assert await getvar(center.ami, call.citizen_channel, "HOTLINE_LINKAGE") == "119"
    await desk.listener.drain()
    with desk.app.state.db.session() as session:
        row = session.scalar(select(m.Call).where(m.Call.call_id == call.call_id))
        assert any(e.get("Target") == "119" and e.get("Kind") == "emergency" for e in row.transfers), row.transfers


async def test_ending_the_call_from_the_desk_sends_the_citizen_to_the_survey(center: Center, desk: DeskRig) -> None:
    async with on_a_call(center, desk) as call, api(desk) as http:
        mark = center.events.mark()
        reply = await http.post("/api/v1/calls/current/hangup", headers=desk.as_("agent"))
        assert reply.status_code == 200 and reply.json()["message"] == "通话已结束，市民将进入满意度评价"
        await center.events.wait_for(named("Hangup", Channel=call.agent_channel), 10, "the agent's leg ends",
                                     since=mark)
        # Only the agent's leg ended: the citizen's Queue() continues into the survey, the citizen's channel still
        # up when it gets there (read from the events: a channel query races the survey's own end here).
        survey = await center.events.wait_for(named("Newexten", Channel=call.citizen_channel,
                                                    Context=v.CTX_SURVEY), 10, "the citizen enters the survey",
                                              since=mark)
        before = center.events.events[mark:center.events.events.index(survey)]
        assert not [e for e in before if e.name == "Hangup" and e.get("Channel") == call.citizen_channel]


async def test_recording_plays_for_its_agent_and_supervisors_only(center: Center, desk: DeskRig) -> None:
    async with on_a_call(center, desk) as call:
        await asyncio.sleep(1.5)  # some audio into the queue's MixMonitor
    await center.events.wait_for(named("Hangup", Uniqueid=call.call_id), 20, "the call ends")
    await desk.listener.drain()
    url = f"/api/v1/calls/{call.call_id}/recording"
    async with api(desk) as http:
        deadline = time.monotonic() + 10
        while (mine := await http.get(url, headers=desk.as_("agent"))).status_code == 404:
            assert time.monotonic() < deadline, mine.text  # MixMonitor closes the file after the hang-up
            await asyncio.sleep(0.3)
        assert mine.status_code == 200, mine.text
        assert mine.headers["content-type"] == "audio/wav" and mine.content[:4] == b"RIFF"
        assert len(mine.content) > 44  # more than a bare WAV header
        assert (await http.get(url, headers=desk.as_("boss"))).status_code == 200
        other = await http.get(url, headers=desk.as_("agent2"))
        assert other.status_code == 404 and other.json()["message"] == f"通话“{call.call_id}”不存在"
        assert (await http.get(url, headers=desk.as_("water"))).status_code == 403
        assert (await http.get(url)).status_code == 401
    with desk.app.state.db.session() as session:
        plays = session.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "play_recording",
                                                           m.AuditEntry.object_id == call.call_id)).all()
    assert sorted(p.username for p in plays) == sorted([desk.user("agent"), desk.user("boss")])


async def test_transfer_buttons_need_an_agent_and_a_phone_link(center: Center, desk: DeskRig) -> None:
    async with api(desk) as http:
        boss = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("boss"),
                               json={"kind": "one_key"})
        assert boss.status_code == 403
        idle = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("agent"),
                               json={"kind": "one_key"})
        assert idle.status_code == 409 and idle.json()["message"] == "当前没有进行中的通话"
        bad = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("agent"),
                              json={"kind": "teleport", "target": "12366"})
        assert bad.status_code == 422
        link, desk.app.state.telephony = desk.app.state.telephony, None
        try:
            down = await http.post("/api/v1/calls/current/transfer", headers=desk.as_("agent"),
                                   json={"kind": "emergency", "target": "110"})
        finally:
            desk.app.state.telephony = link
        assert down.status_code == 503 and "电话系统暂时无法连接" in down.json()["message"]
