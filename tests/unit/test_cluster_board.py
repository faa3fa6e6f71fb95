"""The cluster's wallboard (``agent_desk.supervision.cluster_board.merge``): several nodes' parts, each from a real
``Wallboard`` fed AMI events, merged into one board."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest

from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.cluster_board import STALE_SECONDS, merge
from agent_desk.supervision.wallboard import Wallboard
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.numberplan import GENERAL_QUEUE, load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.wallboard import recorded, stamp

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
T0 = dt.datetime(2026, 12, 5, 10, 0, tzinfo=PROVINCE_TZ).timestamp()   # mid-morning: no midnight in the tests
SL = 20


def event(name: str, at: float, vars_: dict[str, str] | None = None, **fields: str) -> AmiEvent:
    return AmiEvent(name, MappingProxyType({"Timestamp": f"{at:.6f}", **fields}), 0.0, MappingProxyType(vars_ or {}))


def board() -> Wallboard:
    def no_clock() -> float:
        raise AssertionError("every event here has a timestamp and every snapshot a time")
    wb = Wallboard.from_plan(PLAN, SL, clock=no_clock)
    wb.set_connected(True)
    return wb


def join(wb: Wallboard, uniqueid: str, at: float, queue: str = GENERAL_QUEUE, line: str = "12345") -> None:
    wb.apply(event("QueueCallerJoin", at, {v.CALL_ID: uniqueid, v.LINE: line}, Uniqueid=uniqueid, Queue=queue))


def answer(wb: Wallboard, uniqueid: str, at: float, hold: int, agent: str = "PJSIP/8001") -> None:
    wb.apply(event("AgentConnect", at, {v.CALL_ID: uniqueid, v.LINE: "12345"}, Uniqueid=uniqueid,
                   Queue=GENERAL_QUEUE, HoldTime=str(hold), Interface=agent, MemberName=agent))


def abandon(wb: Wallboard, uniqueid: str, at: float) -> None:
    wb.apply(event("QueueCallerAbandon", at, {v.CALL_ID: uniqueid, v.LINE: "12345"}, Uniqueid=uniqueid,
                   Queue=GENERAL_QUEUE))


def member(wb: Wallboard, agent: str, at: float, status: str = "1", paused: str = "0", reason: str = "") -> None:
    wb.apply(event("QueueMemberAdded", at, Interface=agent, MemberName=agent, Queue=GENERAL_QUEUE, Status=status,
                   Paused=paused, PausedReason=reason))


def complete(wb: Wallboard, at: float, talk: int, agent: str = "PJSIP/8001") -> None:
    wb.apply(event("AgentComplete", at, {v.LINE: "12345"}, Queue=GENERAL_QUEUE, TalkTime=str(talk), Interface=agent,
                   MemberName=agent))


def queue_row(snap: dict, queue: str = GENERAL_QUEUE) -> dict:
    return next(q for q in snap["queues"] if q["queue"] == queue)


def agent_row(snap: dict, extension: str) -> dict:
    return next(a for a in snap["agents"] if a["extension"] == extension)


def test_waiting_calls_add_up_and_the_longest_wait_is_the_oldest_callers_on_any_node():
    n1, n2 = board(), board()
    join(n1, "hotline-main-n1-1.1", T0)
    join(n1, "hotline-main-n1-2.1", T0 + 10, line="12318")
    join(n2, "hotline-main-n2-1.1", T0 - 25)
    merged = merge({"n1": n1.snapshot(T0 + 30, sums=True), "n2": n2.snapshot(T0 + 30, sums=True)}, T0 + 30, SL)
    assert queue_row(merged)["waiting"] == 3 and merged["totals"]["waiting"] == 3
    assert queue_row(merged)["longest_wait"] == 55 and merged["totals"]["longest_wait"] == 55
    assert queue_row(merged)["oldest_since"] == pytest.approx(T0 - 25)
    assert {r["line"]: r["waiting"] for r in merged["lines"]} == {"12345": 2, "12318": 1}
    assert merged["connected"] is True
    assert merged["nodes"] == [{"node": "n1", "online": True, "state_label": "在线", "seen_at": T0 + 30},
                               {"node": "n2", "online": True, "state_label": "在线", "seen_at": T0 + 30}]


def test_service_level_and_handle_time_are_recomputed_from_the_sums_not_averaged():
    n1, n2 = board(), board()
    join(n1, "a", T0)
    answer(n1, "a", T0 + 5, hold=5)           # n1: 1 of 1 within 20 s → 100 %
    complete(n1, T0 + 65, talk=60)
    for i, hold in enumerate((30, 40)):       # n2: 0 answered within, 2 late, 1 abandoned → 0 %
        join(n2, f"b{i}", T0)
        answer(n2, f"b{i}", T0 + hold, hold=hold, agent=f"PJSIP/800{i + 2}")
        complete(n2, T0 + hold + 120, talk=120, agent=f"PJSIP/800{i + 2}")
    join(n2, "c", T0)
    abandon(n2, "c", T0 + 3)
    at = T0 + 300
    merged = merge({"n1": n1.snapshot(at, sums=True), "n2": n2.snapshot(at, sums=True)}, at, SL)
    totals = merged["totals"]
    assert (totals["answered"], totals["abandoned"], totals["answered_within"]) == (3, 1, 1)
    assert totals["service_level"] == 0.25          # 1 ÷ 4, where averaging the nodes' rates would say 0.5
    assert totals["avg_handle_seconds"] == 100.0    # (60 + 120 + 120) ÷ 3, not (60 + 120) ÷ 2
    assert queue_row(merged)["service_level"] == 0.25
    assert "talk_seconds" not in totals and "completed" not in queue_row(merged)


def test_an_agent_on_a_call_on_any_node_is_on_a_call():
    n1, n2 = board(), board()
    for wb in (n1, n2):
        member(wb, "PJSIP/8001", T0)
        member(wb, "PJSIP/8002", T0)
    join(n2, "x", T0 + 1)
    answer(n2, "x", T0 + 4, hold=3, agent="PJSIP/8001")   # 8001 talks on n2, is idle on n1
    member(n1, "PJSIP/8002", T0 + 5, paused="1", reason="meal")   # 8002 paused on n1 (ringing nowhere)
    at = T0 + 10
    merged = merge({"n1": n1.snapshot(at, sums=True), "n2": n2.snapshot(at, sums=True)}, at, SL)
    on_call = agent_row(merged, "8001")
    assert on_call["state"] == "on_call" and on_call["state_label"] == "通话中" and on_call["call_id"] == "x"
    assert on_call["since"] == pytest.approx(T0 + 4)
    paused = agent_row(merged, "8002")
    assert paused["state"] == "paused" and paused["paused"] and paused["reason"] == "meal"
    assert merged["agent_states"]["on_call"] == 1 and merged["agent_states"]["paused"] == 1
    assert sum(merged["agent_states"].values()) == 2   # each agent once, not once per node
    assert queue_row(merged)["agents"] == {"on_call": 1, "paused": 1}


def test_a_node_offline_leaves_the_board_live_but_its_counters_of_today_stay():
    n1, n2 = board(), board()
    member(n2, "PJSIP/8001", T0)
    join(n1, "a", T0)
    join(n2, "b", T0 - 100)
    join(n2, "c", T0)
    answer(n2, "c", T0 + 2, hold=2)
    at = T0 + 10
    part2 = n2.snapshot(at, sums=True)
    n2.set_connected(False)                      # its Asterisk died: the listener lost AMI
    merged = merge({"n1": n1.snapshot(at, sums=True), "n2": n2.snapshot(at, sums=True)}, at, SL)
    assert merged["totals"]["waiting"] == 1 and merged["totals"]["longest_wait"] == 10
    assert merged["totals"]["answered"] == 1     # n2's answered call happened: it stays counted
    assert merged["agents"] == [] and merged["connected"] is True
    assert merged["nodes"][1] == {"node": "n2", "online": False, "state_label": "节点离线", "seen_at": at}

    # its listener is gone: the last part it wrote says connected, but is older than STALE_SECONDS
    later = at + STALE_SECONDS + 0.5
    merged = merge({"n1": n1.snapshot(later, sums=True), "n2": part2}, later, SL)
    assert merged["totals"]["waiting"] == 1 and merged["nodes"][1]["state_label"] == "节点离线"
    assert merged["totals"]["answered"] == 1
    # a part just inside the staleness window still counts
    merged = merge({"n1": n1.snapshot(at + 1, sums=True), "n2": part2}, at + STALE_SECONDS - 0.5, SL)
    assert merged["totals"]["waiting"] == 2 and merged["nodes"][1]["online"] is True
    assert merged["totals"]["longest_wait"] == int(STALE_SECONDS - 0.5) + 110   # n2's caller b, joined at T0 - 100

    # a node never heard of (no listener ever wrote its part) is offline too; no node at all: disconnected
    merged = merge({"n1": None, "n2": None}, at, SL)
    assert merged["connected"] is False and [n["online"] for n in merged["nodes"]] == [False, False]
    assert merged["totals"]["waiting"] == 0 and merged["totals"]["service_level"] is None


def test_yesterdays_counters_of_a_node_are_not_todays():
    n1, n2 = board(), board()
    yesterday = T0 - 86400
    join(n2, "old", yesterday)
    answer(n2, "old", yesterday + 1, hold=1)
    n2.set_connected(False)
    merged = merge({"n1": n1.snapshot(T0, sums=True), "n2": n2.snapshot(yesterday + 5, sums=True)}, T0, SL)
    assert merged["totals"]["answered"] == 0
    assert merged["day"] == dt.datetime.fromtimestamp(T0, PROVINCE_TZ).date().isoformat()


def test_one_nodes_part_merged_alone_is_that_nodes_board():
    """The recorded real center's stream (calls answered, abandoned, pauses) at every step: merging one node's part
    gives exactly the board the node shows (only the node list differs), so the merge loses and invents nothing."""
    wb = Wallboard.from_plan(PLAN, SL, clock=lambda: (_ for _ in ()).throw(AssertionError("clock read")))
    wb.set_connected(True)
    steps = 0
    for e in recorded():
        if wb.apply(e):
            at = stamp(e) + 0.5
            alone = wb.snapshot(at)
            merged = merge({"n1": wb.snapshot(at, sums=True)}, at, SL)
            assert merged.pop("nodes") == [{"node": "n1", "online": True, "state_label": "在线",
                                            "seen_at": round(at, 3)}]
            alone.pop("nodes")
            assert merged == alone
            steps += 1
    assert steps > 10
