"""未接来电回拨 end to end on the real Asterisk, the peer Asterisk playing the carrier and the citizens' phones:

- calls that end before any agent answered become one task for their caller, through the desk's own listener;
- 回拨 rings the agent's softphone first and, once it answers, the citizen over the carrier trunk, who sees 12345;
  the call is connected, recorded and ends as ``connected`` on the task;
- an agent who does not answer their own phone never has the citizen dialled;
- over the trunk's limit (site ``callbacks.outbound_channels``) the call fails as trunk busy, no attempt used;
- a citizen who is busy, does not answer, rejects the call or answers and hangs up at once: the outcome the
  dialer records, one attempt used, and the task waits for its next attempt (nothing marked done).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time

import pytest
from sqlalchemy import select

from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.db import models as m
from hotline import channelvars as v
from hotline.ami import AmiError
from tests.support.agents import hang_up_everything, peer_mode
from tests.support.center import OUTBOUND_CHANNELS, Center
from tests.support.callbacks import callback_desk, call_row, ended, missed_task, place
from tests.support.events import poll
from tests.support.desk import DeskRig

pytestmark = pytest.mark.asterisk

# Quiet hours off (the test runs at any hour), short rings.
POLICY = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0), agent_ring_seconds=6,
                        citizen_ring_seconds=10)
USERS = ("agent", "agent2", "boss")


@pytest.fixture(scope="module")
async def desk(center: Center, new_database, redis_server):
    """The real desk app with its listener on the center's AMI; agent, agent2 and boss each on a softphone."""
    async with callback_desk(center, new_database("sqlite"), redis_server.authenticated_url, USERS, POLICY) as rig:
        yield rig





def tasks_of(desk: DeskRig, caller: str) -> list[m.CallbackTask]:
    with desk.app.state.db.session() as session:
        rows = list(session.scalars(select(m.CallbackTask).where(m.CallbackTask.caller == caller)))
        session.expunge_all()
    return rows










async def test_calls_that_end_before_an_agent_answers_become_one_task(center: Center, desk: DeskRig) -> None:
    caller = "13907551201"
    for _ in range(2):
        cid = center.new_call_id()
        mark = center.events.mark()
        await center.ami.originate(
            "Local/s@hotline-queue", caller_id=f'"市民" <{caller}>', channel_id=cid, data="600",
            variables={f"__{v.QUEUE}": "province", f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
        # queued (or sent away at once when nobody serves the queue): the citizen hangs up after a moment
        await center.events.wait(lambda e, cid=cid: e.get("Linkedid") == cid
                                 and e.name in ("QueueCallerJoin", "Hangup"), 5, mark)
        await asyncio.sleep(1)
        hung_up = time.monotonic()
        try:
            await center.ami.hangup(cid)
        except Exception:
            pass   # already gone
    tasks = await poll(lambda: [t for t in tasks_of(desk, caller) if t.missed_calls == 2], 60,
                       "one task with both missed calls")   # the issue: within a minute
    print(f"abandoned call → its task: {time.monotonic() - hung_up:.2f} s")
    assert len(tasks_of(desk, caller)) == 1 and tasks[0].state == "open" and tasks[0].line == "12345"


async def test_click_to_call_rings_the_agent_first_then_the_citizen_with_12345(center: Center, desk: DeskRig) -> None:
    caller = "13907551202"
    task_id = missed_task(desk, caller, f"{center.new_call_id()}-m")
    center_mark, peer_mark = center.events.mark(), center.peer_events.mark()
    out_id = await place(desk, "agent", task_id)
    try:
        citizen = await center.peer_events.wait_for(
            lambda e: e.name == "UserEvent" and e.get("UserEvent") == "CitizenCalled" and e.get("Number") == caller,
            20, "the citizen's phone rings at the carrier", peer_mark)
        assert citizen["CallerID"] == "12345"
        # the center's own events (its AMI may deliver them after the peer's): the agent's phone went up (answered)
        # before the citizen was dialled. (OriginateResponse itself may come after the dialplan began.)
        up = await center.events.wait_for(
            lambda e: e.name == "Newstate" and e.get("Uniqueid") == out_id and e.get("ChannelStateDesc") == "Up",
            10, "the agent answering", center_mark)
        dialled = await center.events.wait_for(
            lambda e: e.name == "DialBegin" and e.get("Uniqueid") == out_id, 10, "the citizen dialled", center_mark)
        order = center.events.events
        assert order.index(up) < order.index(dialled)
        assert up["Channel"].startswith(f"PJSIP/{desk.phones['agent']}-")
        response = await center.events.wait_for(
            lambda e: e.name == "OriginateResponse" and e.get("ActionID") == out_id, 10, "the originate's result",
            center_mark)
        assert response["Response"] == "Success"
        await poll(lambda: (row := call_row(desk, out_id)) is not None and row.status == "connected", 15,
                   "the citizen answering")
    finally:
        await center.ami.hangup(out_id)
    row = await ended(desk, out_id)
    assert (row.outcome, row.counted) == ("connected", True)
    assert row.recording and row.recording.endswith(f"/{out_id}.wav")
    [task] = tasks_of(desk, caller)
    assert (task.state, task.attempts, task.outcome) == ("open", 1, "connected")
    with desk.app.state.db.session() as session:
        assert session.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "callback_call",
                                                         m.AuditEntry.object_id == str(task_id))) is not None


async def test_an_agent_who_does_not_answer_never_has_the_citizen_dialled(center: Center, desk: DeskRig) -> None:
    caller = "13907551203"
    task_id = missed_task(desk, caller, f"{center.new_call_id()}-m")
    peer_mark = center.peer_events.mark()
    async with peer_mode(center, "softphone", desk.phones["agent2"], "noanswer"):
        out_id = await place(desk, "agent2", task_id)
        row = await ended(desk, out_id)
    # it rang (Originate reason 3: ringing, then the timeout), and the citizen was never dialled
    assert (row.outcome, row.dial_status, row.counted) == ("agent_no_answer", "AGENT-3", False)
    assert not center.peer_events.find(lambda e: e.get("UserEvent") == "CitizenCalled" and e.get("Number") == caller)
    assert peer_mark <= len(center.peer_events.events)
    [task] = tasks_of(desk, caller)
    assert (task.state, task.attempts) == ("open", 0)


async def test_over_the_trunk_limit_the_call_is_refused_as_trunk_busy(center: Center, desk: DeskRig) -> None:
    assert OUTBOUND_CHANNELS == 2, "the scenario holds two calls and tries a third"
    callers = ["13907551211", "13907551212", "13907551213"]
    tasks = [missed_task(desk, c, f"{center.new_call_id()}-m") for c in callers]
    held: list[str] = []
    try:
        for user, task_id in zip(USERS[:2], tasks, strict=False):
            out_id = await place(desk, user, task_id)
            held.append(out_id)
            try:
                await poll(lambda o=out_id: (row := call_row(desk, o)) is not None and row.status == "connected", 20,
                           f"{user}'s call connected")
            except AssertionError:
                row = call_row(desk, out_id)
                state = row and (row.status, row.outcome, row.dial_status)
                raise AssertionError(f"{user}'s call not connected: {state}; "
                                     f"center events {[e.name for e in center.events.of_call(out_id)]}") from None
        peer_mark = center.peer_events.mark()
        third = await place(desk, "boss", tasks[2])
        row = await ended(desk, third)
        assert (row.outcome, row.dial_status, row.counted) == ("trunk_busy", "TRUNK_BUSY", False)
        assert not center.peer_events.find(lambda e: e.get("UserEvent") == "CitizenCalled"
                                           and e.get("Number") == callers[2])
        assert peer_mark <= len(center.peer_events.events)
        [task] = tasks_of(desk, callers[2])
        assert task.state == "open" and task.attempts == 0 and task.next_attempt_at is not None
    finally:
        await hang_up_everything(center)
        for out_id in held:   # the desk has heard them end: the next test's agent has no 回拨 in progress
            await ended(desk, out_id)


@pytest.mark.parametrize(("mode", "outcome"), [("busy", "busy"), ("noanswer", "no_answer"), ("reject", "busy"),
                                               ("brief", "connected")])
async def test_a_citizen_who_is_busy_does_not_answer_rejects_or_hangs_up_at_once(center: Center, desk: DeskRig,
                                                                                 mode: str, outcome: str) -> None:
    """The citizen's phone at the peer: busy (486), rings out (the policy's 10 s), declines (拒接: 603, cause 21,
    counted like busy: the phone was reached and said no), or answers and hangs up after 3 s of silence. Each uses
    one attempt, and the task stays open with its next attempt scheduled by the retry policy."""
    caller = {"busy": "13907551221", "noanswer": "13907551222", "reject": "13907551223", "brief": "13907551224"}[mode]
    task_id = missed_task(desk, caller, f"{center.new_call_id()}-m")
    peer_mark = center.peer_events.mark()
    async with peer_mode(center, "citizen", caller, mode):
        out_id = await place(desk, "agent", task_id)
        await center.peer_events.wait_for(
            lambda e: e.name == "UserEvent" and e.get("UserEvent") == "CitizenCalled" and e.get("Number") == caller,
            20, "the citizen's phone reached at the carrier", peer_mark)
        try:
            row = await ended(desk, out_id, timeout=POLICY.citizen_ring_seconds + 30)
        finally:
            with contextlib.suppress(AmiError):   # the agent's leg, if anything is left of it
                await center.ami.hangup(out_id)
    assert (row.outcome, row.counted) == (outcome, True), (row.outcome, row.dial_status, row.counted)
    [task] = tasks_of(desk, caller)
    assert (task.state, task.attempts) == ("open", 1), (task.state, task.attempts, task.outcome)
    if outcome == "connected":
        assert task.outcome == "connected"   # the agent records what the call came to (nothing decided for them)
    else:
        assert task.next_attempt_at is not None   # the policy's 10 minutes after this first attempt
        assert task.next_attempt_at.replace(tzinfo=dt.UTC) >= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
