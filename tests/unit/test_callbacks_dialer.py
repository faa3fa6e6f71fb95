"""回拨 over AMI, with a scripted AMI that raises on any action it was not told to expect: the agent's phone
first (no answer: the citizen is never dialled), then the outbound context's events decide the outcome."""

from __future__ import annotations

import asyncio
from types import MappingProxyType

from agent_desk.callbacks import dialer as d
from agent_desk.callbacks.rules import CallbackPolicy, Outcome
from hotline import channelvars as v
from hotline.ami import AmiEvent

OUT = "cb-0123456789abcdef0123"
POLICY = CallbackPolicy(agent_ring_seconds=5, citizen_ring_seconds=5)


def event(name: str, **fields: str) -> AmiEvent:
    return AmiEvent(name=name, fields=MappingProxyType({"Event": name, **fields}), vars=MappingProxyType({}))


def outbound(result: str, **fields: str) -> AmiEvent:
    return event("UserEvent", UserEvent="HotlineOutbound", OutID=OUT, Result=result, **fields)


class ScriptedAmi:
    """Answers the actions it expects, in order, by sending the events given for each; anything else raises."""

    def __init__(self, script: list[tuple[str, list[AmiEvent]]]):
        self.script = list(script)
        self.subscribers: list = []
        self.actions: list[dict] = []

    def subscribe(self, callback) -> None:
        self.subscribers.append(callback)

    def unsubscribe(self, callback) -> None:
        self.subscribers.remove(callback)

    async def action(self, action: dict, timeout: float = 10.0) -> dict[str, str]:
        if not self.script:
            raise AssertionError(f"unexpected AMI action {action}")
        expected, events = self.script.pop(0)
        if action.get("Action") != expected:
            raise AssertionError(f"expected {expected}, got {action}")
        self.actions.append(action)
        loop = asyncio.get_running_loop()
        for n, e in enumerate(events):
            loop.call_later(0.001 * (n + 1), self._send, e)
        return {"Response": "Success"}

    def _send(self, e: AmiEvent) -> None:
        for callback in list(self.subscribers):
            callback(e)


class StepsDialer(d.Dialer):
    """The dialer with its database steps written down instead of stored (the store has its component tests)."""

    def __init__(self) -> None:
        super().__init__(None, POLICY)   # type: ignore[arg-type]
        self.steps: list[tuple] = []

    async def _store(self, step, out_id, *args) -> None:
        self.steps.append((step.__name__, *[a.value if isinstance(a, Outcome) else a for a in args
                                            if not isinstance(a, CallbackPolicy)]))


async def run(script) -> tuple[Outcome, StepsDialer, ScriptedAmi]:
    ami, dialer = ScriptedAmi(script), StepsDialer()
    outcome = await asyncio.wait_for(dialer.follow(ami, OUT, "8001", "13800138000"), 5)   # type: ignore[arg-type]
    assert ami.subscribers == [] and ami.script == []
    return outcome, dialer, ami


def test_the_originate_rings_the_agent_first_and_carries_the_number_to_the_outbound_context():
    action = d.originate_action(OUT, "8001", "13800138000", CallbackPolicy())
    assert action["Channel"] == "PJSIP/8001" and action["Context"] == v.CTX_OUTBOUND and action["Exten"] == "s"
    assert action["ChannelId"] == OUT == action["ActionID"] and action["Timeout"] == "30000"
    assert action["CallerID"] == '"回拨" <12345>'
    assert f"{v.OUT_NUMBER}=13800138000" in action["Variable"] and f"{v.OUT_ID}={OUT}" in action["Variable"]
    assert d.new_out_id() != d.new_out_id() and len(d.new_out_id()) == 23


def test_dial_outcomes():
    assert d.dial_outcome("ANSWER", "16") == Outcome.CONNECTED
    assert d.dial_outcome("BUSY", None) == Outcome.BUSY
    assert d.dial_outcome("NOANSWER", "") == Outcome.NO_ANSWER
    assert d.dial_outcome("NOANSWER", "21") == Outcome.BUSY   # declined by the citizen's phone (603)
    assert d.dial_outcome("NOANSWER", "19") == Outcome.NO_ANSWER
    assert d.dial_outcome("CANCEL", "") == Outcome.CANCELLED
    assert d.dial_outcome("CHANUNAVAIL", "1") == Outcome.INVALID_NUMBER
    assert d.dial_outcome("CONGESTION", "28") == Outcome.INVALID_NUMBER
    assert d.dial_outcome("CONGESTION", "17") == Outcome.BUSY
    assert d.dial_outcome("CONGESTION", "34") == Outcome.TRUNK_BUSY
    assert d.dial_outcome("CHANUNAVAIL", "x") == Outcome.TRUNK_BUSY
    assert d.dial_outcome("", None) == Outcome.FAILED


async def test_the_agent_not_answering_never_dials_the_citizen():
    outcome, dialer, ami = await run([("Originate", [event("OriginateResponse", ActionID=OUT, Response="Failure",
                                                           Reason="3")])])
    assert outcome == Outcome.AGENT_NO_ANSWER
    assert dialer.steps == [("finish", "agent_no_answer", "AGENT-3")]   # never "dialing"
    assert [a["Action"] for a in ami.actions] == ["Originate"]


async def test_a_connected_call_goes_through_its_steps_and_ignores_other_calls_events():
    outcome, dialer, _ = await run([("Originate", [
        event("OriginateResponse", ActionID=OUT, Response="Success", Reason="4", Uniqueid=OUT),
        event("DialEnd", Uniqueid="cb-another-call", DialStatus="BUSY"),   # someone else's
        outbound(v.OUT_DIALING),
        event("DialEnd", Uniqueid=OUT, Linkedid=OUT, DialStatus="ANSWER"),
        event("Hangup", Uniqueid="1700.9", Linkedid=OUT, Cause="16"),
        outbound(v.OUT_ENDED, DialStatus="ANSWER", HangupCause="16")])])
    assert outcome == Outcome.CONNECTED
    assert dialer.steps == [("progress", "dialing"), ("progress", "connected"), ("finish", "connected", "ANSWER")]


async def test_over_the_trunk_limit_the_call_fails_as_trunk_busy():
    outcome, dialer, _ = await run([("Originate", [
        event("OriginateResponse", ActionID=OUT, Response="Success"), outbound(v.OUT_TRUNK_BUSY)])])
    assert outcome == Outcome.TRUNK_BUSY and dialer.steps[-1] == ("finish", "trunk_busy", "TRUNK_BUSY")


async def test_a_number_the_dialplan_refuses_is_invalid():
    outcome, dialer, _ = await run([("Originate", [
        event("OriginateResponse", ActionID=OUT, Response="Success"), outbound(v.OUT_REFUSED, Reason="foreign")])])
    assert outcome == Outcome.INVALID_NUMBER and dialer.steps[-1] == ("finish", "invalid_number", "REFUSED-FOREIGN")


async def test_an_unallocated_number_is_invalid_and_a_no_answer_is_an_attempt():
    outcome, _, _ = await run([("Originate", [
        event("OriginateResponse", ActionID=OUT, Response="Success"), outbound(v.OUT_DIALING),
        event("Hangup", Uniqueid="1700.3", Linkedid=OUT, Cause="1"),
        event("DialEnd", Uniqueid=OUT, DialStatus="CHANUNAVAIL"),
        outbound(v.OUT_ENDED, DialStatus="CHANUNAVAIL", HangupCause="1")])])
    assert outcome == Outcome.INVALID_NUMBER
    outcome, _, _ = await run([("Originate", [
        event("OriginateResponse", ActionID=OUT, Response="Success"), outbound(v.OUT_DIALING),
        event("DialEnd", Uniqueid=OUT, DialStatus="NOANSWER"), outbound(v.OUT_ENDED, DialStatus="NOANSWER")])])
    assert outcome == Outcome.NO_ANSWER


async def test_no_word_from_the_outbound_context_hangs_the_agent_up_and_fails(monkeypatch):
    monkeypatch.setattr(d, "STEP_SECONDS", 0.2)
    outcome, dialer, ami = await run([("Originate", [event("OriginateResponse", ActionID=OUT, Response="Success")]),
                                      ("Hangup", [])])
    assert outcome == Outcome.FAILED and dialer.steps[-1] == ("finish", "failed", "NO_OUTBOUND_EVENT")
    assert ami.actions[-1] == {"Action": "Hangup", "Channel": OUT}
