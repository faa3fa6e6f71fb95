"""Transfers over real SIP, driven over AMI: what the desk's transfer buttons call.

Given the AMI client and the agent's live call (``LiveCall``: the call id, the citizen's channel and the
agent's channel on the center), each function does one hand-off and returns a ``TransferResult`` with what
the desk needs to record it or to fall back to a ticket: target line, department, trunk, outcome, times,
dial status, conference room, recording. Every hand-off is also announced on AMI as

    UserEvent: HotlineTransfer   CallID, Kind, Target, Outcome, DialStatus, Fallback, Conference, Agent, SetupMs

(emergency and one-key hand-offs additionally as ``HotlineLinkage``, like the dialplan's own linkage).

Two mechanisms:

* **Dial first, then join** (``three_way_transfer``, ``emergency_linkage``): the far end (sub-center agent,
  emergency center) is dialled over its trunk with an AMI Originate while the citizen keeps talking to the
  agent. Only when it answers are the citizen and the agent Redirected into one ConfBridge room with it
  (``[hotline-conference]``). If it is busy or does not answer, nothing moved: the citizen is still with the
  agent, and the result says ``busy`` / ``no_answer`` with ``fallback="agent"``. Afterwards the agent may
  leave (``agent_leaves``): the citizen and the far end stay connected; the citizen is never left alone in
  a room (it leaves when the last agent/far-end member has gone).
* **Hand the citizen to the dialplan** (``retained_seat_transfer``, ``one_key_transfer``): the citizen is
  Redirected to ``[hotline-transfer]``, which announces the transfer (retained seats: a Chinese notice that
  the call is recorded), records it (MixMonitor, unless already recording), dials the trunk and, when the
  far end does not answer, plays the failure notice and puts the citizen back in the 12345 queue
  (``fallback="queue:<name>"``). The agent is released at once.

Agent-to-agent and to-queue transfers use Asterisk's own transfer actions: ``blind_transfer`` and
``transfer_to_queue`` (AMI ``BlindTransfer``), ``attended_transfer`` / ``complete_attended_transfer`` /
``cancel_attended_transfer`` (AMI ``Atxfer``, hang-up, ``CancelAtxfer``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from hotline import channelvars as v
from hotline.ami import AmiClient, AmiError, AmiEvent
from hotline.numberplan import LineClass, NumberPlan, RetainedLine, SubCenterLine, TransferLine

from agent_desk.telephony._ami import Watch, channel_exists, getvar, setvar, user_event
from agent_desk.telephony.link import nodes_of

TRANSFER_EVENT = "HotlineTransfer"
LINKAGE_EVENT = "HotlineLinkage"


class TransferKind(StrEnum):
    THREE_WAY = "three_way"          # 三方转接 to a sub-center (12360, 12366, 12305)
    RETAINED_SEAT = "retained_seat"  # 双号并行 第三类: to the line's own seats (12348, 12333)
    ONE_KEY = "one_key"              # 一键转接 (961017)
    EMERGENCY = "emergency"          # 紧急联动 (110, 119, 120, 122)
    BLIND = "blind"                  # to another agent, without consulting
    ATTENDED = "attended"            # to another agent, after consulting
    QUEUE = "queue"                  # back to a queue


class Outcome(StrEnum):
    BRIDGED = "bridged"            # citizen, agent (unless it left) and far end in one conference
    ANSWERED = "answered"          # the target answered and has the citizen
    QUEUED = "queued"              # the citizen is waiting in the queue asked for
    CONSULTING = "consulting"      # attended transfer: the agent talks to the target, the citizen holds
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"              # congestion, unreachable or refused trunk, Asterisk refused the action
    CITIZEN_GONE = "citizen_gone"  # the citizen hung up before the target answered


CONNECTED = frozenset({Outcome.BRIDGED, Outcome.ANSWERED, Outcome.QUEUED, Outcome.CONSULTING})
FALLBACK_AGENT = "agent"   # the citizen is (still) with the transferring agent


@dataclass(frozen=True)
class LiveCall:
    """The agent's live call as the desk knows it from AMI."""

    call_id: str            # HOTLINE_CALL_ID of the call
    citizen_channel: str    # the citizen's channel on the center (e.g. PJSIP/carrier-0000002a)
    agent_channel: str      # the agent's channel on the center (e.g. PJSIP/8001-0000002b)
    agent: str = ""         # the agent's extension, for the record
    # The connection of the node that carries the call (a cluster: found by asking every node, ``agent_call``).
    # Every action on the call goes to it, whichever connection the caller hands in; None: the one handed in.
    node: AmiClient | None = field(default=None, compare=False, repr=False)


def on_node(call: LiveCall, ami: AmiClient) -> AmiClient:
    """The connection to act on ``call`` with: its node's, else the one given (a single node: the same)."""
    return call.node if call.node is not None else ami


@dataclass(frozen=True)
class TransferResult:
    call_id: str
    kind: TransferKind
    target: str                    # number (or extension / queue) handed to
    target_name: str               # e.g. 纳税服务热线
    department: str                # e.g. 国家税务总局海南省税务局: whom the desk dispatches a ticket to on failure
    trunk: str                     # the plan's trunk, "" for agent/queue transfers
    outcome: Outcome
    started_at: float              # epoch seconds: the function was called
    ended_at: float                # epoch seconds: the function returned
    answered_at: float | None = None   # the far end answered
    bridged_at: float | None = None    # every party joined (three-way) / the citizen reached the target
    dial_status: str = ""          # ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CANCEL ...
    fallback: str = ""             # "" | "agent" | "queue:<name>"
    conference: str = ""           # ConfBridge room of a three-way transfer
    far_channel: str = ""          # the far end's channel on the center
    agent: str = ""
    agent_stayed: bool = False
    detail: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])  # one hand-off (agent_left repeats it)

    @property
    def connected(self) -> bool:
        return self.outcome in CONNECTED

    @property
    def setup_seconds(self) -> float | None:
        """From the call of the function to the citizen being with the target (three-way: in one bridge)."""
        end = self.bridged_at or None
        return None if end is None else end - self.started_at

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"], data["outcome"] = self.kind.value, self.outcome.value
        data["connected"], data["setup_seconds"] = self.connected, self.setup_seconds
        return data

    def event_fields(self) -> dict[str, str]:
        setup = self.setup_seconds
        return {
            "CallID": self.call_id, "Kind": self.kind.value, "Target": self.target, "Outcome": self.outcome.value,
            "DialStatus": self.dial_status, "Fallback": self.fallback, "Conference": self.conference,
            "Agent": self.agent, "Trunk": self.trunk, "SetupMs": "" if setup is None else str(round(setup * 1000)),
            "TransferID": self.id,
        }


class TransferError(ValueError):
    """The transfer cannot be attempted: unknown target, wrong kind of line."""


# ── pure helpers (unit-tested) ───────────────────────────────────────────────
# OriginateResponse Reason: the last control frame the outgoing channel saw (Asterisk's AST_CONTROL_*).
_ORIGINATE_REASONS = {
    0: (Outcome.FAILED, "CHANUNAVAIL"),   # no such channel / trunk unreachable, nothing came back
    1: (Outcome.FAILED, "HANGUP"),        # refused (e.g. 403/603)
    3: (Outcome.NO_ANSWER, "NOANSWER"),   # rang until our timeout
    5: (Outcome.BUSY, "BUSY"),
    8: (Outcome.FAILED, "CONGESTION"),
}


def originate_outcome(response: str, reason: str) -> tuple[Outcome, str]:
    """Map an OriginateResponse (Response, Reason) to an outcome and a Dial-style status."""
    if response == "Success":
        return Outcome.ANSWERED, "ANSWER"
    try:
        code = int(reason)
    except (TypeError, ValueError):
        code = 0
    return _ORIGINATE_REASONS.get(code, (Outcome.FAILED, f"REASON{code}"))


# Q.850 hangup causes of the far leg: the OriginateResponse Reason of a direct channel is 0 for busy and
# congestion alike, so the leg's own Hangup cause tells them apart.
_CAUSES = {
    17: (Outcome.BUSY, "BUSY"),
    18: (Outcome.NO_ANSWER, "NOANSWER"), 19: (Outcome.NO_ANSWER, "NOANSWER"),
    21: (Outcome.FAILED, "REJECTED"),
    1: (Outcome.FAILED, "CHANUNAVAIL"), 3: (Outcome.FAILED, "CHANUNAVAIL"), 20: (Outcome.FAILED, "CHANUNAVAIL"),
    27: (Outcome.FAILED, "CHANUNAVAIL"),
    34: (Outcome.FAILED, "CONGESTION"), 38: (Outcome.FAILED, "CONGESTION"), 41: (Outcome.FAILED, "CONGESTION"),
    42: (Outcome.FAILED, "CONGESTION"),
}


def failure_outcome(reason: str, cause: str | None) -> tuple[Outcome, str]:
    """Why an originated far leg did not answer: its hangup cause when known, else the originate reason."""
    try:
        code = int(cause) if cause else None
    except ValueError:
        code = None
    if code in _CAUSES:
        return _CAUSES[code]
    return originate_outcome("Failure", reason)


_DIAL_STATUSES = {
    "ANSWER": Outcome.ANSWERED, "BUSY": Outcome.BUSY, "NOANSWER": Outcome.NO_ANSWER,
    "CANCEL": Outcome.CITIZEN_GONE, "CONGESTION": Outcome.FAILED, "CHANUNAVAIL": Outcome.FAILED,
}


def dial_outcome(dial_status: str) -> Outcome:
    return _DIAL_STATUSES.get(dial_status, Outcome.FAILED)


_KIND_OF_CLASS = {
    LineClass.SUB_CENTER: TransferKind.THREE_WAY,
    LineClass.DUAL_RETAINED: TransferKind.RETAINED_SEAT,
    LineClass.ONE_KEY_TRANSFER: TransferKind.ONE_KEY,
    LineClass.EMERGENCY: TransferKind.EMERGENCY,
}


# The lines with a trunk: what a transfer can dial.
TrunkLine = RetainedLine | SubCenterLine | TransferLine


def transfer_line(plan: NumberPlan, target: str, *classes: LineClass) -> TrunkLine:
    """The plan's line for ``target``, which must have a trunk and be one of ``classes``."""
    line = plan.line(str(target))
    if not isinstance(line, RetainedLine | SubCenterLine | TransferLine):  # the line classes with a trunk
        raise TransferError(f"{target} is not a transfer target of the number plan")
    if classes and line.line_class not in classes:
        allowed = ", ".join(c.value for c in classes)
        raise TransferError(f"{target} is a {line.line_class.value} line; this transfer takes {allowed}")
    return line


def conference_name(call_id: str, target: str) -> str:
    return f"xfer-{call_id}-{target}-{uuid.uuid4().hex[:6]}"


# ── dial first, then join: three-way and emergency ───────────────────────────
def _is(name: str, **fields: str) -> Callable[[AmiEvent], bool]:
    return lambda e: e.name == name and all(e.get(k) == val for k, val in fields.items())


async def _finish(ami: AmiClient, result: TransferResult) -> TransferResult:
    result = replace(result, ended_at=time.time())
    await user_event(ami, TRANSFER_EVENT, result.event_fields())
    return result


async def three_way_transfer(ami: AmiClient, call: LiveCall, target: str, *, plan: NumberPlan,
                             ring_timeout: int | None = None, agent_stays: bool = True,
                             join_timeout: float = 10.0) -> TransferResult:
    """三方转接: dial ``target`` (a sub-center line, or any trunk line) and, when it answers, put the citizen,
    the agent (unless ``agent_stays`` is False) and the far end in one ConfBridge.

    Busy / no answer / failure: the citizen never left the agent; ``fallback="agent"``.
    """
    ami = on_node(call, ami)
    line = transfer_line(plan, target)
    kind = TransferKind.EMERGENCY if line.line_class == LineClass.EMERGENCY else TransferKind.THREE_WAY
    return await _dial_then_join(ami, call, line, plan, kind, ring_timeout, agent_stays, join_timeout)


async def emergency_linkage(ami: AmiClient, call: LiveCall, target: str, *, plan: NumberPlan,
                            ring_timeout: int | None = None, agent_stays: bool = True,
                            join_timeout: float = 10.0) -> TransferResult:
    """紧急联动 to 110/119/120/122: the emergency center joins the citizen and the agent (who may then leave).
    The linkage is recorded on the citizen's channel (HOTLINE_LINKAGE), as ``HotlineLinkage`` and
    ``HotlineTransfer`` user events, and in the result. Not answered: the citizen stays with the agent."""
    ami = on_node(call, ami)
    line = transfer_line(plan, target, LineClass.EMERGENCY)
    with_linkage = await _mark_linkage(ami, call, line.number)
    result = await _dial_then_join(ami, call, line, plan, TransferKind.EMERGENCY, ring_timeout, agent_stays,
                                   join_timeout)
    return replace(result, detail=result.detail or with_linkage)


async def _mark_linkage(ami: AmiClient, call: LiveCall, number: str) -> str:
    try:
        await setvar(ami, call.citizen_channel, f"__{v.LINKAGE}", number)
    except AmiError:
        return "citizen channel gone before the linkage"
    await user_event(ami, LINKAGE_EVENT, {"Target": number, "CallID": call.call_id, "Agent": call.agent})
    return ""


async def _dial_then_join(ami: AmiClient, call: LiveCall, line: TrunkLine, plan: NumberPlan, kind: TransferKind,
                          ring_timeout: int | None, agent_stays: bool, join_timeout: float) -> TransferResult:
    trunk = plan.trunks[line.trunk]
    timeout = int(ring_timeout or trunk.ring_timeout)
    started = time.time()
    result = TransferResult(call.call_id, kind, line.number, line.name, line.department, line.trunk,
                            Outcome.FAILED, started, started, agent=call.agent)
    citizen_number = await getvar(ami, call.citizen_channel, "CALLERID(num)")
    if citizen_number is None:
        return await _finish(ami, replace(result, outcome=Outcome.CITIZEN_GONE, detail="citizen channel gone"))
    room = conference_name(call.call_id, line.number)
    far_id = f"xfer-{uuid.uuid4().hex}"
    action_id = f"{far_id}-originate"
    result = replace(result, conference=room)
    async with Watch(ami) as watch:
        variables = [f"{v.CONFERENCE}={room}", f"__{v.CALL_ID}={call.call_id}", f"__{v.TRANSFER_TARGET}={line.number}",
                     f"{v.TRANSFER_KIND}={kind.value}", f"{v.AGENT}={call.agent}"]
        try:
            await ami.action({
                "Action": "Originate", "ActionID": action_id,
                "Channel": f"PJSIP/{line.number}@trunk-{line.trunk}",
                "Context": v.CTX_CONFERENCE, "Exten": "far", "Priority": "1",
                "CallerID": f'"12345" <{citizen_number}>', "Timeout": str(timeout * 1000), "Async": "true",
                "ChannelId": far_id, "Variable": variables,
            })
        except AmiError as exc:
            return await _finish(ami, replace(result, outcome=Outcome.FAILED, fallback=FALLBACK_AGENT, detail=str(exc)))
        response = await watch.wait(_is("OriginateResponse", ActionID=action_id), timeout + 15)
        if response is None:
            await _hangup_quietly(ami, far_id)
            return await _finish(ami, replace(result, outcome=Outcome.NO_ANSWER, dial_status="TIMEOUT",
                                              fallback=FALLBACK_AGENT, detail="no OriginateResponse"))
        outcome, status = originate_outcome(response.get("Response"), response.get("Reason"))
        if outcome != Outcome.ANSWERED:
            hangup = await watch.wait(_is("Hangup", Uniqueid=far_id), 2)
            outcome, status = failure_outcome(response.get("Reason"), hangup.get("Cause") if hangup else None)
        result = replace(result, dial_status=status)
        if outcome != Outcome.ANSWERED:
            return await _finish(ami, replace(result, outcome=outcome, fallback=FALLBACK_AGENT))
        answered = time.time()
        far_channel = response.get("Channel")
        result = replace(result, answered_at=answered, far_channel=far_channel)
        citizen_gone = watch.find(_is("Hangup", Channel=call.citizen_channel)) is not None
        if citizen_gone or not await channel_exists(ami, call.citizen_channel):
            await _hangup_quietly(ami, far_channel)
            return await _finish(ami, replace(result, outcome=Outcome.CITIZEN_GONE))
        stays = agent_stays and bool(call.agent_channel) and await channel_exists(ami, call.agent_channel)
        try:
            await setvar(ami, call.citizen_channel, v.CONFERENCE, room)
            await setvar(ami, call.citizen_channel, f"__{v.TRANSFER_TARGET}", line.number)
            redirect = {"Action": "Redirect", "Channel": call.citizen_channel, "Context": v.CTX_CONFERENCE,
                        "Exten": "citizen", "Priority": "1"}
            if stays:
                await setvar(ami, call.agent_channel, v.CONFERENCE, room)
                redirect.update({"ExtraChannel": call.agent_channel, "ExtraContext": v.CTX_CONFERENCE,
                                 "ExtraExten": "agent", "ExtraPriority": "1"})
            await ami.action(redirect)
        except AmiError as exc:
            await _hangup_quietly(ami, far_channel)
            gone = not await channel_exists(ami, call.citizen_channel)
            return await _finish(ami, replace(result, outcome=Outcome.CITIZEN_GONE if gone else Outcome.FAILED,
                                              fallback="" if gone else FALLBACK_AGENT, detail=str(exc)))
        members = [call.citizen_channel, far_channel] + ([call.agent_channel] if stays else [])
        joined = []
        for channel in members:
            event = await watch.wait(_is("ConfbridgeJoin", Conference=room, Channel=channel), join_timeout)
            if event is None:
                return await _finish(ami, replace(result, outcome=Outcome.FAILED, agent_stayed=stays,
                                                  detail=f"{channel} did not join {room}"))
            joined.append(event.received)
        bridged = answered + (max(joined) - response.received)
        if not stays and call.agent_channel:
            await _hangup_quietly(ami, call.agent_channel)
        return await _finish(ami, replace(result, outcome=Outcome.BRIDGED, bridged_at=bridged, agent_stayed=stays))


async def _hangup_quietly(ami: AmiClient, channel: str) -> None:
    try:
        await ami.action({"Action": "Hangup", "Channel": channel})
    except AmiError:
        pass


async def conference_members(ami: AmiClient, room: str) -> list[str]:
    """The channels in a ConfBridge room now (AMI ConfbridgeList); [] when the room is gone."""
    return [e.get("Channel") for e in await ami.action_list({"Action": "ConfbridgeList", "Conference": room})
            if e.name == "ConfbridgeList"]


async def agent_leaves(ami: AmiClient, call: LiveCall, result: TransferResult, timeout: float = 10.0) -> list[str]:
    """The agent leaves a three-way conference; the citizen and the far end stay. Returns who is still in it."""
    ami = on_node(call, ami)
    async with Watch(ami) as watch:
        await ami.action({"Action": "ConfbridgeKick", "Conference": result.conference, "Channel": call.agent_channel})
        await watch.wait(_is("ConfbridgeLeave", Conference=result.conference, Channel=call.agent_channel), timeout)
    await user_event(ami, TRANSFER_EVENT, {**result.event_fields(), "Outcome": "agent_left"})
    return await conference_members(ami, result.conference)


# ── hand the citizen to the dialplan: retained seats, one-key ────────────────
async def retained_seat_transfer(ami: AmiClient, call: LiveCall, target: str, *, plan: NumberPlan,
                                 ring_timeout: int | None = None, wait: float = 60.0) -> TransferResult:
    """双号并行 第三类 (12348, 12333): announce (Chinese, "the call is recorded"), record, dial the seats over
    their trunk; not answered: back to the 12345 queue. The agent is released at once."""
    ami = on_node(call, ami)
    line = transfer_line(plan, target, LineClass.DUAL_RETAINED)
    return await _via_dialplan(ami, call, line, plan, TransferKind.RETAINED_SEAT, ring_timeout, wait)


async def one_key_transfer(ami: AmiClient, call: LiveCall, *, plan: NumberPlan, target: str | None = None,
                           ring_timeout: int | None = None, wait: float = 60.0) -> TransferResult:
    """一键转接 (961017 by the plan): one call, the linkage recorded; not answered: back to the 12345 queue."""
    ami = on_node(call, ami)
    if target is None:
        lines = plan.lines_of(LineClass.ONE_KEY_TRANSFER)
        if not lines:
            raise TransferError("the number plan has no one_key_transfer line")
        target = lines[0].number
    line = transfer_line(plan, target, LineClass.ONE_KEY_TRANSFER)
    return await _via_dialplan(ami, call, line, plan, TransferKind.ONE_KEY, ring_timeout, wait)


async def _via_dialplan(ami: AmiClient, call: LiveCall, line: TrunkLine, plan: NumberPlan, kind: TransferKind,
                        ring_timeout: int | None, wait: float) -> TransferResult:
    started = time.time()
    result = TransferResult(call.call_id, kind, line.number, line.name, line.department, line.trunk,
                            Outcome.FAILED, started, started, agent=call.agent)
    citizen = call.citizen_channel
    async with Watch(ami) as watch:
        try:
            if ring_timeout:
                await setvar(ami, citizen, v.RING_TIMEOUT, str(int(ring_timeout)))
            await setvar(ami, citizen, v.TRANSFER_KIND, kind.value)
            await ami.action({"Action": "Redirect", "Channel": citizen, "Context": v.CTX_TRANSFER,
                              "Exten": line.number, "Priority": "1"})
        except AmiError as exc:
            gone = not await channel_exists(ami, citizen)
            return await _finish(ami, replace(result, outcome=Outcome.CITIZEN_GONE if gone else Outcome.FAILED,
                                              fallback="" if gone else FALLBACK_AGENT, detail=str(exc)))
        far_prefix = f"PJSIP/trunk-{line.trunk}-"
        what, event = await watch.wait_any({
            "dial": lambda e: e.name == "DialEnd" and e.get("Channel") == citizen
            and e.get("DestChannel").startswith(far_prefix),
            "hangup": _is("Hangup", Channel=citizen),
        }, wait)
        if what is None:
            return await _finish(ami, replace(result, outcome=Outcome.FAILED, detail="no DialEnd in time"))
        if what == "hangup":
            return await _finish(ami, replace(result, outcome=Outcome.CITIZEN_GONE))
        assert event is not None  # wait_any gives the event of what happened
        status = event.get("DialStatus")
        outcome = dial_outcome(status)
        result = replace(result, dial_status=status, far_channel=event.get("DestChannel"))
        if outcome == Outcome.ANSWERED:
            now = time.time()
            return await _finish(ami, replace(result, answered_at=now, bridged_at=now, outcome=outcome))
        joined = await watch.wait(_is("QueueCallerJoin", Channel=citizen), 30)
        fallback = f"queue:{joined.get('Queue')}" if joined is not None else ""
        return await _finish(ami, replace(result, outcome=outcome, fallback=fallback))


# ── agent to agent, to a queue ───────────────────────────────────────────────
async def blind_transfer(ami: AmiClient, call: LiveCall, extension: str, *, wait: float = 40.0) -> TransferResult:
    """Blind transfer (AMI BlindTransfer) of the citizen to another agent's softphone. If that agent does not
    answer, the dialplan puts the citizen back in the queue (``fallback="queue:<name>"``)."""
    ami = on_node(call, ami)
    started = time.time()
    result = TransferResult(call.call_id, TransferKind.BLIND, str(extension), f"坐席{extension}", "", "",
                            Outcome.FAILED, started, started, agent=call.agent)
    citizen = call.citizen_channel
    async with Watch(ami) as watch:
        try:
            await ami.action({"Action": "BlindTransfer", "Channel": call.agent_channel, "Context": v.CTX_AGENTS,
                              "Exten": str(extension)})
        except AmiError as exc:
            return await _finish(ami, replace(result, fallback=FALLBACK_AGENT, detail=str(exc)))
        what, event = await watch.wait_any({
            "dial": lambda e: e.name == "DialEnd" and e.get("Channel") == citizen
            and e.get("DestChannel", "").startswith(f"PJSIP/{extension}-"),
            "hangup": _is("Hangup", Channel=citizen),
        }, wait)
        if what != "dial":
            return await _finish(ami, replace(result, outcome=Outcome.CITIZEN_GONE if what else Outcome.FAILED))
        assert event is not None  # wait_any gives the event of what happened
        status = event.get("DialStatus")
        result = replace(result, dial_status=status, far_channel=event.get("DestChannel"))
        if status == "ANSWER":
            return await _finish(ami, replace(result, outcome=Outcome.ANSWERED, answered_at=time.time(),
                                              bridged_at=time.time()))
        joined = await watch.wait(_is("QueueCallerJoin", Channel=citizen), 15)
        return await _finish(ami, replace(result, outcome=dial_outcome(status),
                                          fallback=f"queue:{joined.get('Queue')}" if joined else ""))


async def transfer_to_queue(ami: AmiClient, call: LiveCall, queue: str, *, plan: NumberPlan,
                            wait: float = 15.0) -> TransferResult:
    """Blind transfer (AMI BlindTransfer) of the citizen back to a queue of the plan (``sp-<code>`` for a
    city/county sub-platform, which overflows to the province as usual)."""
    ami = on_node(call, ami)
    queues = plan.all_queues()
    if queue not in queues:
        raise TransferError(f"queue {queue!r} is not in the number plan")
    started = time.time()
    result = TransferResult(call.call_id, TransferKind.QUEUE, queue, queues[queue].name, "", "",
                            Outcome.FAILED, started, started, agent=call.agent)
    async with Watch(ami) as watch:
        try:
            await ami.action({"Action": "BlindTransfer", "Channel": call.agent_channel, "Context": v.CTX_TO_QUEUE,
                              "Exten": queue})
        except AmiError as exc:
            return await _finish(ami, replace(result, fallback=FALLBACK_AGENT, detail=str(exc)))
        joined = await watch.wait(_is("QueueCallerJoin", Channel=call.citizen_channel), wait)
    if joined is None:
        return await _finish(ami, replace(result, detail="the citizen did not join a queue in time"))
    now = time.time()
    return await _finish(ami, replace(result, outcome=Outcome.QUEUED, bridged_at=now,
                                      detail=f"joined {joined.get('Queue')} at position {joined.get('Position')}"))


async def attended_transfer(ami: AmiClient, call: LiveCall, extension: str, *, wait: float = 35.0) -> TransferResult:
    """Attended transfer (AMI Atxfer): the citizen holds while the agent consults ``extension``. Then
    ``complete_attended_transfer`` (the agent hangs up: the citizen is connected to the target) or
    ``cancel_attended_transfer`` (back to the citizen)."""
    ami = on_node(call, ami)
    started = time.time()
    result = TransferResult(call.call_id, TransferKind.ATTENDED, str(extension), f"坐席{extension}", "", "",
                            Outcome.FAILED, started, started, agent=call.agent)
    async with Watch(ami) as watch:
        try:
            await ami.action({"Action": "Atxfer", "Channel": call.agent_channel, "Context": v.CTX_AGENTS,
                              "Exten": str(extension)})
        except AmiError as exc:
            return await _finish(ami, replace(result, fallback=FALLBACK_AGENT, detail=str(exc)))
        answered = await watch.wait(lambda e: e.name == "DialEnd" and e.get("DestChannel", "").startswith(
            f"PJSIP/{extension}-"), wait)
    if answered is None:
        return await _finish(ami, replace(result, outcome=Outcome.NO_ANSWER, fallback=FALLBACK_AGENT))
    status = answered.get("DialStatus")
    return await _finish(ami, replace(
        result, dial_status=status, far_channel=answered.get("DestChannel"),
        outcome=Outcome.CONSULTING if status == "ANSWER" else dial_outcome(status),
        answered_at=time.time() if status == "ANSWER" else None))


async def complete_attended_transfer(ami: AmiClient, call: LiveCall, consulted: TransferResult,
                                     timeout: float = 10.0) -> TransferResult:
    """Finish an attended transfer: the agent hangs up, the citizen is bridged with the consulted agent."""
    ami = on_node(call, ami)
    async with Watch(ami) as watch:
        await ami.action({"Action": "Hangup", "Channel": call.agent_channel})
        done = await watch.wait(lambda e: e.name == "AttendedTransfer", timeout)
    ok = done is not None and done.get("Result") == "Success"
    return await _finish(ami, replace(consulted, outcome=Outcome.ANSWERED if ok else Outcome.FAILED,
                                      bridged_at=time.time() if ok else None,
                                      detail="" if ok else
                                      f"AttendedTransfer {done.get('Result') if done else 'missing'}"))


async def cancel_attended_transfer(ami: AmiClient, call: LiveCall) -> None:
    """Abandon the consultation: the agent is back with the citizen."""
    ami = on_node(call, ami)
    await ami.action({"Action": "CancelAtxfer", "Channel": call.agent_channel})


# ── finding the live call ────────────────────────────────────────────────────
async def live_call_of(ami: AmiClient, agent_channel: str, agent: str = "") -> LiveCall | None:
    """The LiveCall of an agent's channel: the citizen is its bridge peer (BRIDGEPEER), the call id its tag."""
    citizen = await getvar(ami, agent_channel, "BRIDGEPEER")
    if not citizen:
        return None
    call_id = await getvar(ami, citizen, v.CALL_ID) or ""
    return LiveCall(call_id=call_id, citizen_channel=citizen, agent_channel=agent_channel, agent=agent)


SPY_APPLICATION = "ChanSpy"   # a supervisor's listen/whisper/barge leg (agent_desk.telephony.spy)


def is_agent_call_channel(channel: AmiEvent | Mapping[str, str], extension: str) -> bool:
    """A CoreShowChannel entry that is the agent's softphone leg in a call (bridged), not a supervisor's spy
    leg or a feature-code call of the same phone."""
    return (channel.get("Channel", "").startswith(f"PJSIP/{extension}-") and bool(channel.get("BridgeId", ""))
            and channel.get("Application", "") != SPY_APPLICATION)


async def agent_channel(ami: AmiClient, extension: str) -> str | None:
    """The agent's softphone leg in its current call (CoreShowChannels; the newest should there be two)."""
    legs = [e for e in await ami.action_list({"Action": "CoreShowChannels"})
            if e.name == "CoreShowChannel" and is_agent_call_channel(e, extension)]
    return max(legs, key=lambda e: e.get("Uniqueid"))["Channel"] if legs else None


async def agent_node(ami: AmiClient, extension: str) -> tuple[AmiClient, str] | None:
    """The node that carries the agent's call and the agent's channel there, asking every connected node at once
    (a cluster; ``ami`` is any node's connection, see ``agent_desk.telephony.link``); a single node asks itself.
    The proxy lets an agent have one call at a time, so at most one node answers (the first in the site's
    order should two, while a dead node's call is being cleared)."""
    nodes = list(nodes_of(ami).values())
    channels = await asyncio.gather(*(agent_channel(node, extension) for node in nodes))
    return next(((node, channel) for node, channel in zip(nodes, channels) if channel is not None), None)


async def agent_call(ami: AmiClient, extension: str) -> LiveCall | None:
    """The live call of an agent's softphone, with the citizen as its bridge peer, on whichever node carries it
    (``LiveCall.node``). None when the agent is on no two-party call (idle, or already in a conference)."""
    found = await agent_node(ami, extension)
    if found is None:
        return None
    node, channel = found
    call = await live_call_of(node, channel, str(extension))
    return None if call is None else replace(call, node=node)
