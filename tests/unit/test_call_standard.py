"""The GB/T 33358 call figures (issue 12) from constructed AMI events: parsed and applied by the call tracker
as the listener does, stored in a fresh SQLite database, and counted by the KPI query the wallboard and the
reports share. Also the pure parts: means and ratios from counts, and the ASR pool's state for the wallboard."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from types import MappingProxyType

import pytest

from agent_desk.calls import events as ev
from agent_desk.calls.tracker import CallTracker, prefill_usable
from agent_desk.db.session import Database
from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision import asr_pool, kpi
from agent_desk.supervision.periods import period_of
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.contracts.prefill import Prefill

DAY = dt.date(2026, 3, 2)
T0 = dt.datetime.combine(DAY, dt.time(10), PROVINCE_TZ).timestamp()


def ami(name: str, call_id: str, at: float, **fields: str) -> AmiEvent:
    """An AMI event of the call ``call_id`` at ``at`` (epoch seconds); its channel is the inbound one unless
    ``Uniqueid`` says otherwise. Newchannel comes before the dialplan tags the channel: no variables."""
    tagged = {} if name == "Newchannel" else {v.CALL_ID: call_id, v.LINE: "12345", v.SUBPLATFORM: "469002"}
    return AmiEvent(name=name, fields=MappingProxyType({"Event": name, "Uniqueid": call_id,
                                                        "Timestamp": f"{at:.6f}", **fields}),
                    vars=MappingProxyType(tagged))


class Tracker(CallTracker):
    """The real tracker without Redis: the prefill the agent would find is given here."""

    def __init__(self, db: Database, prefills: dict[str, Prefill]):
        super().__init__(db, None)
        self.prefills = prefills

    async def _prefill(self, call_id: str) -> Prefill | None:
        return self.prefills.get(call_id)


def scenario() -> list[AmiEvent]:
    """Seven calls of one morning, each a minute apart; times in seconds from its own arrival.

    A  arrives, queues at 4, answered at 16 (12 s wait: within 15 s), the agent has the caller's words
    B  queues at 3, overflows at 20 to the province queue, answered at 28 (25 s in all: not within, though the
       second queue's HoldTime is 8), its prefill still has no words
    C  queues at 2, hangs up at 5 (3 s: a short abandon, offered all the same)
    D  queues at 5, hangs up at 40 (abandoned)
    E  ends in the IVR at 30 (never queued: not offered)
    F  its arrival was not seen (the desk restarted): queues at T, answered exactly 15 s later (within)
    G  queues at 6 and is still waiting (not offered until answered or gone)
    """
    out: list[AmiEvent] = []
    for i, name in enumerate("ABCDEFG"):
        t = T0 + 60 * i
        if name != "F":
            out += [ami("Newchannel", name, t, Channel=f"PJSIP/carrier-{i}"),
                    ami("Newchannel", f"{name}-agent-leg", t + 1, Channel="PJSIP/8001-x")]   # no call of its own
    a, b, c, d, e, f, g = (T0 + 60 * i for i in range(7))
    out += [ami("QueueCallerJoin", "A", a + 4, Queue="sp-469002"),
            ami("AgentConnect", "A", a + 16, Queue="sp-469002", MemberName="8001", HoldTime="12"),
            ami("Hangup", "A", a + 100),
            ami("QueueCallerJoin", "B", b + 3, Queue="sp-469002"),
            ami("QueueCallerLeave", "B", b + 20, Queue="sp-469002"),
            ami("QueueCallerJoin", "B", b + 20, Queue="province"),
            ami("AgentConnect", "B", b + 28, Queue="province", MemberName="8002", HoldTime="8"),
            ami("Hangup", "B", b + 90),
            ami("QueueCallerJoin", "C", c + 2, Queue="province"),
            ami("QueueCallerAbandon", "C", c + 5, Queue="province", HoldTime="3"),
            ami("Hangup", "C", c + 5),
            ami("QueueCallerJoin", "D", d + 5, Queue="province"),
            ami("QueueCallerAbandon", "D", d + 40, Queue="province", HoldTime="35"),
            ami("Hangup", "D", d + 40),
            ami("Hangup", "E", e + 30),
            ami("QueueCallerJoin", "F", f, Queue="province"),
            ami("AgentConnect", "F", f + 15, Queue="province", MemberName="8001", HoldTime="15"),
            ami("Hangup", "F", f + 75),
            ami("QueueCallerJoin", "G", g + 6, Queue="province")]
    return sorted(out, key=lambda e: float(e.get("Timestamp")))


@pytest.fixture(name="figures")
def figures_fixture(new_database):
    db = Database(new_database("sqlite"))
    try:
        tracker = Tracker(db, {"A": Prefill(call_id="A", status="transcribing", transcript="小区路灯坏了三天"),
                               "B": Prefill(call_id="B", status="listening")})

        async def apply() -> None:
            for raw in scenario():
                typed = ev.parse(raw)
                if typed is not None:
                    await tracker.apply(typed)

        asyncio.run(apply())
        with db.session() as session:
            yield kpi.call_totals(session, kpi.Context("sqlite", service_level_seconds=15), period_of("day", DAY))
    finally:
        db.dispose()


def test_the_standard_figures_of_constructed_calls(figures):
    got = figures["metrics"]
    assert figures["offered"] == 5                                          # A B C D F
    assert got["answer"] == {"num": 3, "den": 5, "rate": 0.6}               # A B F
    assert got["service_level"] == {"num": 2, "den": 5, "rate": 0.4}        # A (12 s), F (exactly 15 s)
    assert got["abandon"] == {"num": 2, "den": 5, "rate": 0.4}              # C D
    assert got["short_abandon"] == {"num": 1, "den": 5, "rate": 0.2}        # C: 3 s
    assert got["prefill"] == {"num": 1, "den": 3, "rate": pytest.approx(1 / 3, abs=1e-6)}   # A
    assert got["wait"] == {"seconds": 17.3, "n": 3}                         # (12 + 25 + 15) ÷ 3
    assert got["to_queue"] == {"seconds": 3.5, "n": 4}                      # A 4, B 3, C 2, D 5; F not seen
    assert got["aht"] == {"seconds": 68.7, "n": 3}                          # (84 + 62 + 60) ÷ 3


def test_means_and_ratios_from_counts():
    counts = {"offered": 4, "answered": 2, "within_threshold": 1, "prefilled": 2, "short_abandoned": 1,
              "wait_seconds": 31.0, "arrived": 3, "to_queue_seconds": 10.0}
    got = kpi.metrics(counts)
    assert got["prefill"]["rate"] == 1.0 and got["short_abandon"]["rate"] == 0.25
    assert got["wait"] == {"seconds": 15.5, "n": 2} and got["to_queue"] == {"seconds": 3.3, "n": 3}
    assert got["aht"] == {"seconds": None, "n": 0}
    assert kpi.metrics(counts, calls=False)["wait"] is None
    assert set(kpi.call_metrics(counts)) == {*kpi.CALL_METRICS, *kpi.MEANS}
    assert all(name in kpi.METRIC_LABELS for name in (*kpi.METRICS, *kpi.MEANS))


def test_a_usable_prefill_holds_the_callers_words():
    assert prefill_usable(Prefill(call_id="x", status="final", transcript="路灯坏了"))
    assert prefill_usable(Prefill(call_id="x", status="transcribing", transcript="路灯"))   # not final: still words
    assert not prefill_usable(Prefill(call_id="x", status="final", transcript=" \n"))
    assert not prefill_usable(Prefill(call_id="x", status="no_speech"))
    assert not prefill_usable(None)


# ── the ASR pool on the wallboard ────────────────────────────────────────────────────────────────────
NOW = 1_800_000_000.0


def beat(at: float, busy: bool = False, done: int = 0) -> str:
    return json.dumps({"at": at, "done": done, "busy": busy})


def stats(**counts: int) -> dict[str, str]:
    return {name: str(value) for name, value in counts.items()}


def test_asr_pool_states_and_the_last_interval():
    workers = {"asr-1": beat(NOW - 2, busy=True), "asr-2": beat(NOW - 10), "asr-3": beat(NOW - 300),
               "asr-4": "not json"}
    board, keep = asr_pool.view(stats(jobs=100, ok=90, shed=5, lost=1, failed=4), workers, [], NOW)
    # No earlier reading: nothing to compare with yet, so no interval and no 繁忙 on the first look.
    assert (board["state"], board["state_label"], board["interval"]) == ("normal", "转写正常", None)
    assert board["workers"] == {"known": 4, "alive": 2, "busy": 1}
    assert board["totals"] == {"jobs": 100, "ok": 90, "shed": 5, "lost": 1, "failed": 4}
    assert [s["at"] for s in keep] == [NOW]

    # Readings every 10 s for two minutes; the interval compares with the newest reading a minute old.
    samples: list[asr_pool.Sample] = [{"at": NOW - 120 + 10 * i, "jobs": 10.0 * i, "ok": 10.0 * i, "shed": 5,
                                       "lost": 1, "failed": 4} for i in range(12)]
    board, keep = asr_pool.view(stats(jobs=130, ok=118, shed=7, lost=2, failed=4), workers, samples, NOW)
    assert board["interval"] == {"jobs": 70, "ok": 58, "shed": 2, "lost": 1, "failed": 0, "seconds": 60.0}
    assert (board["state"], board["state_label"]) == ("busy", "转写繁忙")   # phrases shed in the last minute
    assert keep[-1]["at"] == NOW and min(s["at"] for s in keep) >= NOW - asr_pool.KEEP

    # Nothing shed in the minute: normal again; a reading taken a second ago is not kept twice.
    quiet = [{"at": NOW - 61, "jobs": 120, "ok": 108, "shed": 7, "lost": 2, "failed": 4},
             {"at": NOW - 1, "jobs": 129, "ok": 117, "shed": 7, "lost": 2, "failed": 4}]
    board, keep = asr_pool.view(stats(jobs=130, ok=118, shed=7, lost=2, failed=4), workers, quiet, NOW)
    assert board["state"] == "normal" and board["interval"]["jobs"] == 10 and board["interval"]["seconds"] == 61.0
    assert [s["at"] for s in keep] == [NOW - 61, NOW - 1]

    # Counters reset (Redis restarted empty): counted from zero, never negative.
    board, _ = asr_pool.view(stats(jobs=3, ok=3), workers, quiet, NOW)
    assert board["interval"]["jobs"] == 3 and board["interval"]["shed"] == 0

    # Every heartbeat old: the pool is down. No worker and no counter at all: the centre has no pool.
    board, _ = asr_pool.view(stats(jobs=130), {"asr-1": beat(NOW - 31)}, quiet, NOW)
    assert (board["state"], board["state_label"]) == ("offline", "转写中断")
    board, _ = asr_pool.view({}, {}, [], NOW)
    assert (board["state"], board["state_label"]) == ("absent", "未接入")
