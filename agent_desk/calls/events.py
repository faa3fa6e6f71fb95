"""Typed call events from raw AMI events. Everything the desk needs comes with the event itself:
manager.conf ``channelvars`` adds the HOTLINE_* variables of the channel (and of its peer) to each event."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hotline import channelvars as v
from hotline.ami import AmiEvent


@dataclass(frozen=True)
class CallFacts:
    call_id: str
    caller: str
    line: str
    line_class: str
    subplatform: str
    queue: str
    appeal_type: str


@dataclass(frozen=True)
class ChannelCreated:
    """A channel came up (AMI Newchannel). Most are no citizen's call (agent legs, Local halves); the one whose
    id a later QueueCallerJoin names as the call's is its arrival."""

    uniqueid: str
    at: dt.datetime


@dataclass(frozen=True)
class QueueJoined:
    facts: CallFacts
    channel: str
    at: dt.datetime


@dataclass(frozen=True)
class StillWaiting:
    """The callers Asterisk reports waiting when the listener logs in again (QueueStatus's QueueEntry events).

    A caller whose QueueCallerJoin fell while the listener was away (a restart, a cut AMI connection) has no record
    yet, or one without a wait: this gives it one, the wait starting ``Wait`` seconds before the login. Callers
    already on record with a wait are left as they are. What else happened in the gap (a caller answered, or gone,
    before the login) is not in QueueStatus and stays unknown."""

    callers: tuple[QueueJoined, ...]


def still_waiting(status: list[AmiEvent], now: dt.datetime, call_ids: dict[str, str] | None = None) -> StillWaiting:
    """The StillWaiting of a QueueStatus reply (its QueueEntry events; the rest ignored). ``call_ids``: channel →
    the call id it is tagged with (read with Getvar), else the channel's Uniqueid is the call's."""
    callers = []
    for entry in status:
        if entry.name != "QueueEntry" or not entry.get("Uniqueid"):
            continue
        call_id = (call_ids or {}).get(entry.get("Channel")) or entry.get("Uniqueid")
        facts = CallFacts(call_id=call_id, caller=entry.get("CallerIDNum", "").replace("<unknown>", ""),
                          line="", line_class="", subplatform="", queue=entry.get("Queue"), appeal_type="")
        callers.append(QueueJoined(facts, entry.get("Channel"), now - dt.timedelta(seconds=_int(entry.get("Wait")))))
    return StillWaiting(tuple(callers))


@dataclass(frozen=True)
class AgentRinging:
    call_id: str
    agent: str          # extension
    at: dt.datetime


@dataclass(frozen=True)
class AgentAnswered:
    facts: CallFacts
    agent: str
    agent_channel: str
    hold_seconds: int
    at: dt.datetime


@dataclass(frozen=True)
class AgentFinished:
    call_id: str
    agent: str
    talk_seconds: int
    ended_by: str       # caller | agent | transfer
    at: dt.datetime


@dataclass(frozen=True)
class Abandoned:
    call_id: str
    queue: str
    wait_seconds: int
    at: dt.datetime


@dataclass(frozen=True)
class CallEnded:
    facts: CallFacts
    cause: str
    at: dt.datetime


@dataclass(frozen=True)
class TransferRecorded:
    call_id: str
    data: dict[str, Any]
    at: dt.datetime


@dataclass(frozen=True)
class RecordingFailed:
    """The dialplan found the call's recording cannot be written (``UserEvent(HotlineRecordingFailed)``, issue 17):
    the recordings disk is full or its directory gone. The call goes on; the agent is told."""

    call_id: str
    at: dt.datetime


@dataclass(frozen=True)
class RecordingInterrupted:
    """The call's recording stopped being written during the conversation (the listener's recordings watch,
    ``agent_desk.calls.recording_watch``; no AMI event says so): the call goes on; the agent is told, the call's
    record marked incomplete. Applied in order with the AMI events, retried like them."""

    call_id: str
    at: dt.datetime


CallEvent = (ChannelCreated | QueueJoined | AgentRinging | AgentAnswered | AgentFinished | Abandoned | CallEnded
             | TransferRecorded | StillWaiting | RecordingFailed | RecordingInterrupted)

_EXT = re.compile(r"^(?:PJSIP|SIP|Local)/(\d+)")


def _at(event: AmiEvent) -> dt.datetime:
    stamp = event.get("Timestamp")
    if stamp:
        try:
            return dt.datetime.fromtimestamp(float(stamp), dt.UTC)
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC)


def _facts(event: AmiEvent) -> CallFacts:
    vars_ = event.vars
    return CallFacts(
        call_id=vars_.get(v.CALL_ID) or event.get("Uniqueid"),
        caller=event.get("CallerIDNum", "").replace("<unknown>", ""),
        line=vars_.get(v.LINE, ""), line_class=vars_.get(v.LINE_CLASS, ""),
        # Only queue events say which queue the caller is in; HOTLINE_QUEUE is the province fallback.
        subplatform=vars_.get(v.SUBPLATFORM, ""), queue=event.get("Queue"),
        appeal_type=vars_.get(v.APPEAL_TYPE, ""),
    )


def agent_of(event: AmiEvent) -> str:
    """The agent's extension: the queue member name when it is one, else the number in the interface."""
    name = event.get("MemberName")
    if name.isdigit():
        return name
    match = _EXT.match(event.get("Interface") or event.get("DestChannel"))
    return match.group(1) if match else name


def _int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


def parse(event: AmiEvent) -> CallEvent | None:
    """The typed event for an AMI event the desk cares about, else None. Never raises on odd input."""
    name = event.name
    if name == "Newchannel":
        # The dialplan has not tagged it yet (no HOTLINE_CALL_ID): the call's id is this channel's Uniqueid.
        return ChannelCreated(event.get("Uniqueid"), _at(event)) if event.get("Uniqueid") else None
    if name == "QueueCallerJoin":
        return QueueJoined(_facts(event), event.get("Channel"), _at(event))
    if name == "AgentCalled":
        return AgentRinging(event.vars.get(v.CALL_ID) or event.get("Uniqueid"), agent_of(event), _at(event))
    if name == "AgentConnect":
        return AgentAnswered(_facts(event), agent_of(event), event.get("DestChannel"), _int(event.get("HoldTime")),
                             _at(event))
    if name == "AgentComplete":
        reason = {"caller": "caller", "agent": "agent", "transfer": "transfer"}.get(event.get("Reason"), "caller")
        return AgentFinished(event.vars.get(v.CALL_ID) or event.get("Uniqueid"), agent_of(event),
                             _int(event.get("TalkTime")), reason, _at(event))
    if name == "QueueCallerAbandon":
        return Abandoned(event.vars.get(v.CALL_ID) or event.get("Uniqueid"), event.get("Queue"),
                         _int(event.get("HoldTime")), _at(event))
    if name == "Hangup":
        facts = _facts(event)
        # Only the inbound channel ends the call: the dialplan tags it with its own id first thing. Agent legs
        # and Local halves carry the id but are not it; untagged channels (feature codes, agent-to-agent
        # calls, a supervisor's spy leg) are no citizen's call.
        if event.vars.get(v.CALL_ID) and facts.call_id == event.get("Uniqueid"):
            return CallEnded(facts, event.get("Cause-txt") or event.get("Cause"), _at(event))
        return None
    if name == "UserEvent" and event.get("UserEvent") == "HotlineRecordingFailed":
        call_id = event.get("CallID") or event.vars.get(v.CALL_ID)
        return RecordingFailed(call_id, _at(event)) if call_id else None
    if name == "UserEvent" and event.get("UserEvent") in ("HotlineTransfer", "HotlineLinkage"):
        call_id = event.get("CallID") or event.vars.get(v.CALL_ID)
        if not call_id:
            return None
        data = {k: val for k, val in event.fields.items()
                if k not in ("Event", "Privilege", "Channel", "Uniqueid", "Linkedid", "Timestamp", "ActionID")
                and not k.startswith(("CallerID", "ConnectedLine", "Exten", "Context", "Priority", "Chan", "Language",
                                      "AccountCode", "SystemName"))}
        return TransferRecorded(call_id, data, _at(event))
    return None
