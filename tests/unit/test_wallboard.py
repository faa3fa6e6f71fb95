"""The wallboard's state machine on AMI events recorded from the real Asterisk 22 center."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest

from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.wallboard import Wallboard
from hotline.ami import AmiEvent
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.wallboard import recorded, stamp

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
AGENT = "PJSIP/8001"


def board(**kwargs) -> Wallboard:
    def no_clock() -> float:
        raise AssertionError("every recorded event has a timestamp; the clock must not be read")
    return Wallboard.from_plan(PLAN, 20, clock=no_clock, **kwargs)


def changed(event: AmiEvent, name: str | None = None, **fields: str) -> AmiEvent:
    """A recorded event with a few fields changed (and maybe another name)."""
    return AmiEvent(name or event.name, MappingProxyType({**event.fields, **fields}), event.received, event.vars,
                    event.dest_vars)


def until(wb: Wallboard, events: list[AmiEvent], name: str, nth: int = 1) -> AmiEvent:
    """Apply events up to and including the ``nth`` one called ``name``; returns it."""
    seen = 0
    while events:
        event = events.pop(0)
        wb.apply(event)
        if event.name == name:
            seen += 1
            if seen == nth:
                return event
    raise AssertionError(f"no {name} #{nth} in the recording")


def agent(snap: dict, interface: str = AGENT) -> dict:
    return next(a for a in snap["agents"] if a["interface"] == interface)


def row(snap: dict, table: str, key: str, value: str) -> dict:
    return next(r for r in snap[table] if r[key] == value)


def test_a_call_rings_is_answered_wraps_up_and_the_counters_follow():
    wb, events = board(), recorded()
    added = until(wb, events, "QueueMemberAdded")
    snap = wb.snapshot(stamp(added))
    assert agent(snap)["state"] == "idle" and agent(snap)["name"] == "agent-8001" and agent(snap)["extension"] == "8001"

    join = until(wb, events, "QueueCallerJoin")
    snap = wb.snapshot(stamp(join) + 3.5)
    province = row(snap, "queues", "queue", "province")
    assert province["name"] == "省平台综合话务" and province["waiting"] == 1 and province["longest_wait"] == 3
    assert snap["totals"]["waiting"] == 1 and row(snap, "lines", "line", "12318")["waiting"] == 1
    assert row(snap, "subplatforms", "code", "469002")["name"] == "琼海"

    called = until(wb, events, "AgentCalled")
    snap = wb.snapshot(stamp(called))
    assert agent(snap)["state"] == "ringing" and agent(snap)["since"] == pytest.approx(stamp(called), abs=1e-3)
    assert agent(snap)["call_id"] == join.vars["HOTLINE_CALL_ID"]

    connect = until(wb, events, "AgentConnect")
    snap = wb.snapshot(stamp(connect))
    assert agent(snap)["state"] == "on_call" and snap["totals"]["waiting"] == 0
    assert (snap["totals"]["answered"], snap["totals"]["answered_within"],
            snap["totals"]["service_level"]) == (1, 1, 1.0)
    assert row(snap, "lines", "line", "12318")["answered"] == 1
    assert row(snap, "subplatforms", "code", "469002")["answered"] == 1

    complete = until(wb, events, "AgentComplete")
    snap = wb.snapshot(stamp(complete) + 1)
    assert agent(snap)["state"] == "wrapup" and agent(snap)["state_label"] == "话后整理"
    assert agent(snap)["wrapup_until"] == pytest.approx(stamp(complete) + PLAN.queues["province"].wrapup, abs=1e-3)
    assert snap["totals"]["avg_handle_seconds"] == float(complete["TalkTime"])
    # The queue's wrap-up time passes without any event: idle since the wrap-up ended, not since we looked.
    later = wb.snapshot(stamp(complete) + PLAN.queues["province"].wrapup + 5)
    assert agent(later)["state"] == "idle"
    assert agent(later)["since"] == pytest.approx(stamp(complete) + PLAN.queues["province"].wrapup, abs=1e-3)


def test_pause_reason_abandon_and_logout():
    wb, events = board(), recorded()
    pause = until(wb, events, "QueueMemberPause")
    snap = wb.snapshot(stamp(pause))
    assert (agent(snap)["state"], agent(snap)["reason"], agent(snap)["paused"]) == ("paused", "午休", True)
    assert snap["agent_states"]["paused"] == 1
    assert row(snap, "queues", "queue", "province")["agents"] == {"paused": 1}

    join = until(wb, events, "QueueCallerJoin", nth=1)   # the second call of the recording (the first is consumed)
    assert wb.snapshot(stamp(join))["totals"]["waiting"] == 1
    abandon = until(wb, events, "QueueCallerAbandon")
    snap = wb.snapshot(stamp(abandon))
    assert snap["totals"]["waiting"] == 0
    assert (snap["totals"]["answered"], snap["totals"]["abandoned"],
            snap["totals"]["service_level"]) == (1, 1, 0.5)
    assert (row(snap, "lines", "line", "12345")["abandoned"] == 1
            and row(snap, "lines", "line", "12318")["abandoned"] == 0)
    assert row(snap, "queues", "queue", "province")["abandoned"] == 1

    unpause = until(wb, events, "QueueMemberPause")
    assert agent(wb.snapshot(stamp(unpause)))["reason"] == ""
    removed = until(wb, events, "QueueMemberRemoved")
    snap = wb.snapshot(stamp(removed))
    assert agent(snap)["state"] == "logged_out" and agent(snap)["queues"] == []
    assert snap["agent_states"]["logged_out"] == 1


def test_counters_reset_at_midnight_in_province_time_live_state_stays():
    wb, events = board(), recorded()
    join = until(wb, events, "QueueCallerJoin", nth=2)   # one call answered, the second waiting, agent paused
    local = dt.datetime.fromtimestamp(stamp(join), PROVINCE_TZ)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), PROVINCE_TZ).timestamp()
    before = wb.snapshot(midnight - 1)
    assert before["totals"]["answered"] == 1 and before["day"] == local.date().isoformat()
    after = wb.snapshot(midnight + 1)
    assert after["day"] == (local.date() + dt.timedelta(days=1)).isoformat()
    assert (after["totals"]["answered"], after["totals"]["abandoned"], after["totals"]["service_level"]) == (0, 0, None)
    assert after["totals"]["waiting"] == 1 and agent(after)["state"] == "paused"   # live state is not history
    assert not after["lines"][0]["answered"]
    # Midnight is the province's: 8 hours before UTC midnight.
    assert dt.datetime.fromtimestamp(midnight, dt.UTC).hour == 16


def test_rebuild_replaces_live_state_keeps_todays_counters():
    wb, events = board(), recorded()
    join = until(wb, events, "QueueCallerJoin", nth=2)
    assert wb.snapshot(stamp(join))["totals"]["waiting"] == 1
    wb.apply(changed(recorded("events")[0], Event="Shutdown", Timestamp=str(stamp(join) + 1)))
    assert wb.snapshot(stamp(join) + 1)["connected"] is False

    # Asterisk back: nobody waits (the call died with it), the agent is in wrap-up of a call it took.
    status = recorded("status_wrapup")
    last_call = float(next(e for e in status if e.name == "QueueMember")["LastCall"])
    wb.rebuild(status, now=last_call + 2)
    snap = wb.snapshot(last_call + 2)
    assert snap["connected"] is True
    assert snap["totals"]["waiting"] == 0 and row(snap, "queues", "queue", "province")["waiting"] == 0
    assert agent(snap)["state"] == "wrapup" and agent(snap)["reason"] == ""
    assert snap["totals"]["answered"] == 1   # today's history survives a restart

    # A rebuild that finds a waiting caller (line and sub-platform from CoreShowChannels) and a paused agent.
    status, channels = recorded("status_waiting_paused"), recorded("channels_waiting")
    entry = next(e for e in status if e.name == "QueueEntry")
    wb.rebuild([*status, *channels], now=last_call + 3)
    snap = wb.snapshot(last_call + 3)
    assert snap["totals"]["waiting"] == 1 and snap["totals"]["longest_wait"] == int(entry["Wait"])
    assert row(snap, "lines", "line", "12345")["waiting"] == 1
    assert (agent(snap)["state"], agent(snap)["reason"]) == ("paused", "午休")
    assert snap["totals"]["answered"] == 1

    # An agent Asterisk no longer reports is logged out; the ringing view makes the agent ringing.
    wb.rebuild([e for e in recorded("status_ringing") if e.name != "QueueMember"], now=last_call + 4)
    assert agent(wb.snapshot(last_call + 4))["state"] == "logged_out"
    wb.rebuild([*recorded("status_ringing"), *recorded("channels_ringing")], now=last_call + 5)
    snap = wb.snapshot(last_call + 5)
    assert agent(snap)["state"] == "ringing"
    assert row(snap, "lines", "line", "12318")["waiting"] == 1
    assert row(snap, "subplatforms", "code", "469002")["waiting"] == 1


def test_an_overflowed_call_counts_its_whole_wait_for_the_service_level():
    stream = recorded()
    join = next(e for e in stream if e.name == "QueueCallerJoin")
    t0 = stamp(join)
    # The caller first waited 25 s in the 琼海 sub-platform queue, then overflowed to the province.
    overflow = [changed(join, Queue="sp-469002", Timestamp=str(t0 - 25)),
                changed(join, "QueueCallerLeave", Queue="sp-469002", Timestamp=str(t0 - 0.01))]
    wb = board()
    for event in stream:
        if event is join:
            for early in overflow:
                wb.apply(early)
        wb.apply(event)
        if event.name == "AgentConnect":
            break
    snap = wb.snapshot(t0 + 5)
    assert row(snap, "queues", "queue", "province")["answered_within"] == 1   # 2 s in the province queue
    assert snap["totals"]["answered"] == 1 and snap["totals"]["answered_within"] == 0   # 27 s in all
    assert row(snap, "lines", "line", "12318")["answered_within"] == 0
    assert row(snap, "queues", "queue", "sp-469002")["name"] == "琼海分平台"
    assert row(snap, "queues", "queue", "sp-469002")["waiting"] == 0


def test_no_answer_returns_the_agent_to_idle_and_unrelated_events_change_nothing():
    wb, events = board(), recorded()
    called = until(wb, events, "AgentCalled")
    version = wb.version
    for event in recorded():
        if event.name in ("Newchannel", "DialBegin", "BridgeEnter", "UserEvent", "OriginateResponse"):
            assert wb.apply(event) is False
    assert wb.version == version
    assert agent(wb.snapshot(stamp(called)))["state"] == "ringing"
    assert wb.apply(changed(called, "AgentRingNoAnswer", RingTime="15", Timestamp=str(stamp(called) + 15)))
    snap = wb.snapshot(stamp(called) + 16)
    assert agent(snap)["state"] == "idle" and agent(snap)["call_id"] == ""
    assert agent(snap)["since"] == pytest.approx(stamp(called) + 15, abs=1e-3)
