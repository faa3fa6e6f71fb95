"""The listener rebuilds the wallboard after an AMI login without losing the events that arrive meanwhile.

AMI delivers events between an action and its answer: a caller who joins the queue while QueueStatus is on its way
is not in that snapshot. The listener holds such events and applies them on top of the snapshot (events recorded
from the real center; a stand-in AMI that answers only the two list actions and raises on anything else)."""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace

from agent_desk.calls import listener as listener_module
from agent_desk.calls.listener import AmiSettings, CallListener
from agent_desk.supervision.wallboard import Wallboard
from hotline.ami import AmiError, AmiEvent
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.wallboard import recorded, stamp

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
AGENT = "PJSIP/8001"
BOOTED = AmiEvent("FullyBooted", MappingProxyType({"Event": "FullyBooted"}), 0.0, MappingProxyType({}),
                  MappingProxyType({}))


class AmiInFlight:
    """Answers QueueStatus with ``status`` and CoreShowChannels with nothing; while each is on its way, the events
    given for it reach the listener (once: a second QueueStatus finds AMI quiet)."""

    def __init__(self, listener: CallListener, status: list[AmiEvent], during: dict[str, list[AmiEvent]]):
        self.listener, self.status, self.during = listener, status, during
        self.asked: list[str] = []
        self.refusals = 0   # QueueStatus answers that are errors, first

    async def action_list(self, action: dict, *, errors: bool = False) -> list[AmiEvent]:
        name = action["Action"]
        self.asked.append(name)
        assert errors, "the rebuild must not take an error reply for an empty center"
        if self.refusals:
            self.refusals -= 1
            raise AmiError(f"{name}: Permission denied")
        for event in self.during.pop(name, []):
            self.listener._on_ami(event)
        if name == "QueueStatus":
            return self.status
        if name == "CoreShowChannels":
            return []
        raise AssertionError(f"unexpected AMI action {action}")

    async def action(self, action: dict) -> dict:
        if action["Action"] == "Getvar":   # the call id of a waiting channel (none tagged in these recordings)
            return {"Response": "Success", "Variable": action["Variable"], "Value": ""}
        raise AssertionError(f"unexpected AMI action {action}")


def nobody_waiting_agent_idle() -> list[AmiEvent]:
    """QueueStatus of the center with the agent logged in and idle, nobody waiting."""
    return [AmiEvent(e.name, MappingProxyType({**e.fields, "LastCall": "0"}), 0.0, e.vars, e.dest_vars)
            if e.name == "QueueMember" else e for e in recorded("status_wrapup")]


def first_call() -> list[AmiEvent]:
    """The recorded first call's queue events, from its join to its answer by the agent."""
    events = recorded()
    start = next(i for i, e in enumerate(events) if e.name == "QueueCallerJoin")
    end = next(i for i, e in enumerate(events) if e.name == "AgentConnect")
    return events[start:end + 1]


def listener_with_board(now: float) -> tuple[CallListener, Wallboard]:
    wallboard = Wallboard.from_plan(PLAN, 20, clock=lambda: now)
    listener = CallListener(SimpleNamespace(), AmiSettings("127.0.0.1", 5038, "u", "s"), None, wallboard)  # type: ignore[arg-type]
    return listener, wallboard


def agent(snap: dict) -> dict:
    return next(a for a in snap["agents"] if a["interface"] == AGENT)


async def rebuilt(listener: CallListener) -> None:
    listener._on_ami(BOOTED)
    assert listener._rebuilding is not None
    await listener._rebuilding


async def test_a_caller_who_joins_while_queuestatus_is_on_its_way_is_on_the_board():
    join = first_call()[0]
    listener, wallboard = listener_with_board(stamp(join))
    listener.ami = AmiInFlight(listener, nobody_waiting_agent_idle(), {"QueueStatus": [join]})  # type: ignore[assignment]
    await rebuilt(listener)
    snap = wallboard.snapshot(stamp(join) + 1)
    assert snap["connected"] is True
    assert snap["totals"]["waiting"] == 1, "the join that came after the snapshot was wiped by it"


async def test_a_call_answered_during_the_rebuild_is_counted_once_and_the_agent_is_on_it():
    call = first_call()
    listener, wallboard = listener_with_board(stamp(call[0]))
    half = len(call) // 2
    listener.ami = AmiInFlight(listener, nobody_waiting_agent_idle(),  # type: ignore[assignment]
                               {"QueueStatus": call[:half], "CoreShowChannels": call[half:]})
    await rebuilt(listener)
    snap = wallboard.snapshot(stamp(call[-1]) + 1)
    assert snap["totals"]["waiting"] == 0
    assert snap["totals"]["answered"] == 1, "each event applied once: today's counters stay right"
    assert agent(snap)["state"] == "on_call", "the snapshot from before the answer must not overrule it"


async def test_a_login_during_a_rebuild_makes_it_run_once_more():
    join = first_call()[0]
    listener, wallboard = listener_with_board(stamp(join))
    ami = AmiInFlight(listener, nobody_waiting_agent_idle(), {"QueueStatus": [BOOTED]})
    listener.ami = ami  # type: ignore[assignment]
    await rebuilt(listener)
    assert ami.asked == ["QueueStatus", "CoreShowChannels", "QueueStatus", "CoreShowChannels"]
    assert listener._held is None and wallboard.snapshot(stamp(join))["connected"] is True


async def test_a_rebuild_refused_by_asterisk_is_tried_again_not_taken_for_an_empty_center(monkeypatch):
    """An error reply to QueueStatus is not "nobody waiting": the board stays as it was (not connected) and the rebuild
    is tried again while AMI stays up, instead of waiting for the next login (which may be hours away)."""
    monkeypatch.setattr(listener_module, "REBUILD_RETRY", 0.01)
    join = first_call()[0]
    listener, wallboard = listener_with_board(stamp(join))
    wallboard.set_connected(False)   # the connection dropped
    ami = AmiInFlight(listener, recorded("status_waiting_paused"), {})
    ami.refusals = 2
    listener.ami = ami  # type: ignore[assignment]
    await rebuilt(listener)
    assert ami.asked == ["QueueStatus", "QueueStatus", "QueueStatus", "CoreShowChannels"]
    snap = wallboard.snapshot(stamp(join) + 1)
    assert snap["connected"] is True and snap["totals"]["waiting"] == 1   # the caller QueueStatus lists


# ── the periodic check against Asterisk's own list ─────────────────────────────────────────────────────────────
class AmiListing:
    """Answers QueueStatus with the next of ``answers`` (then the last again) and CoreShowChannels with nothing."""

    def __init__(self, answers: list[list[AmiEvent]]):
        self.answers = answers
        self.asked: list[str] = []
        self.manager = SimpleNamespace(authenticated=True)

    async def action_list(self, action: dict, *, errors: bool = False) -> list[AmiEvent]:
        name = action["Action"]
        self.asked.append(name)
        assert errors, "an error reply must not be taken for an empty center"
        if name == "QueueStatus":
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if name == "CoreShowChannels":
            return []
        raise AssertionError(f"unexpected AMI action {action}")

    async def action(self, action: dict) -> dict:
        if action["Action"] == "Getvar":
            return {"Response": "Success", "Variable": action["Variable"], "Value": ""}
        raise AssertionError(f"unexpected AMI action {action}")


async def checked(listener: CallListener, monkeypatch) -> bool:
    """One check of the board (its second look at once), and the rebuild it started, if any."""
    monkeypatch.setattr(listener_module, "CHECK_AGAIN", 0)
    corrected = await listener.check_board()
    if listener._rebuilding is not None:
        await listener._rebuilding
    return corrected


async def test_a_board_that_lost_its_waiting_callers_is_found_and_rebuilt(monkeypatch, caplog):
    waiting = recorded("status_waiting_paused")
    [entry] = [e for e in waiting if e.name == "QueueEntry"]
    listener, wallboard = listener_with_board(stamp(first_call()[0]))
    listener.ami = AmiListing([nobody_waiting_agent_idle()])  # type: ignore[assignment]
    await rebuilt(listener)
    assert wallboard.snapshot()["totals"]["waiting"] == 0
    listener.ami = ami = AmiListing([waiting])  # type: ignore[assignment]   # a caller the board never heard join
    assert await checked(listener, monkeypatch)
    assert ami.asked == ["QueueStatus", "QueueStatus", "QueueStatus", "CoreShowChannels"]   # look, look again, rebuild
    assert wallboard.snapshot()["totals"]["waiting"] == 1 and listener.board_corrections == 1
    assert f"{entry.get('Uniqueid')} missing" in caplog.text


async def test_a_caller_joining_between_two_looks_is_not_a_difference(monkeypatch):
    """The first look finds a caller Asterisk lists and the board not yet (the join on its way); by the second look
    the board has it: nothing is rebuilt."""
    join = first_call()[0]
    entry = AmiEvent("QueueEntry", MappingProxyType({"Event": "QueueEntry", "Queue": join.get("Queue"), "Wait": "0",
                                                     "Uniqueid": join.get("Uniqueid"), "Channel": join.get("Channel")}))
    waiting = [*nobody_waiting_agent_idle(), entry]   # Asterisk lists the caller whose join is on its way
    listener, wallboard = listener_with_board(stamp(join))
    listener.ami = AmiListing([nobody_waiting_agent_idle()])  # type: ignore[assignment]
    await rebuilt(listener)
    ami = AmiListing([waiting, waiting])

    async def second_look(action: dict, *, errors: bool = False) -> list[AmiEvent]:
        if len(ami.asked) == 1:   # the join arrives between the looks
            listener._on_ami(join)
        return await AmiListing.action_list(ami, action, errors=errors)
    ami.action_list = second_look  # type: ignore[method-assign]
    listener.ami = ami  # type: ignore[assignment]
    assert not await checked(listener, monkeypatch)
    assert ami.asked == ["QueueStatus", "QueueStatus"] and listener.board_corrections == 0
    assert wallboard.snapshot()["totals"]["waiting"] == 1
