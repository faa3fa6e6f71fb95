"""回拨 over AMI: the agent's own phone first, then the citizen through ``[hotline-outbound]``.

The agent's softphone (``PJSIP/<extension>``) is originated into ``[hotline-outbound]`` with the citizen's number
in a channel variable. Asterisk runs that context only once the agent has answered, so an agent who does not
pick up never has the citizen dialled (AMI ``OriginateResponse: Failure``). The context checks the number again,
counts the trunk's outbound calls (``GROUP``), sets 12345 as caller ID, records, and dials the carrier; it says
what happened with ``UserEvent HotlineOutbound``. The desk follows one call with one asyncio task that keeps only
that call's events (by ``ActionID``, ``OutID`` and ``Linkedid``, which is the agent leg's id for every leg the
call makes) and stores each step (``store.progress`` / ``store.finish``). Once the citizen answers, the
conversation's live transcript runs under the call's ``out_id`` (its turns reach the agent who placed it through
the desk's one transcript relay: ``agent_desk.calls.transcript.agent_on_call``).

What the desk cannot see (AMI lost, the desk restarted mid-call) ends as ``failed`` after ``MAX_CALL``, or is
released by ``store.release_stale``: a task is never left "dialling" forever, and nothing is marked reached.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from agent_desk.callbacks import store
from agent_desk.callbacks.rules import CallbackPolicy, Outcome
from agent_desk.db.session import Database
from agent_desk.telephony.agents import member_interface
from hotline import channelvars as v
from hotline.ami import AmiClient, AmiError, AmiEvent, EventBuffer

log = logging.getLogger(__name__)

MAX_CALL = store.STALE_CALL.total_seconds()   # seconds a connected call is followed before it is given up on
STEP_SECONDS = 15.0                           # Asterisk answers each step (a UserEvent, a DialEnd) within this

# Q.850 causes of the citizen's leg that say the number itself is wrong, or who refused the call.
_INVALID_CAUSES = {1, 22, 28}   # unallocated, number changed, invalid number format
_DIAL_STATUSES = {"ANSWER": Outcome.CONNECTED, "BUSY": Outcome.BUSY, "NOANSWER": Outcome.NO_ANSWER,
                  "CANCEL": Outcome.CANCELLED}
_CAUSES = {17: Outcome.BUSY, 21: Outcome.BUSY, 18: Outcome.NO_ANSWER, 19: Outcome.NO_ANSWER}
_REJECTED = 21   # call rejected: Dial says NOANSWER for a 603 Decline


def new_out_id() -> str:
    """The call's id: its agent leg's Uniqueid, its ActionID, its recording's name."""
    return f"{v.CALLBACK_ID_PREFIX}{uuid.uuid4().hex[:20]}"


def originate_action(out_id: str, extension: str, number: str, policy: CallbackPolicy) -> dict[str, Any]:
    """The AMI Originate of one 回拨: the agent's phone rings (showing 回拨), and only its answer runs the
    outbound context that dials ``number``."""
    return {
        "Action": "Originate", "ActionID": out_id, "Channel": member_interface(extension),
        "Context": v.CTX_OUTBOUND, "Exten": "s", "Priority": "1",
        "CallerID": f'"回拨" <{policy.center_number}>', "Timeout": str(policy.agent_ring_seconds * 1000),
        "Async": "true", "ChannelId": out_id,
        # LIVE: the agent's conversation is transcribed live as an inbound one is (where the site listens at
        # all): the outbound context starts both sides' listening legs under OUT_ID once the citizen answers.
        "Variable": [f"{v.OUT_ID}={out_id}", f"{v.OUT_NUMBER}={number}", f"{v.OUT_RING}={policy.citizen_ring_seconds}",
                     f"{v.LIVE}=1"],
    }


def dial_outcome(dial_status: str, citizen_cause: str | None) -> Outcome:
    """What a Dial to the citizen came to, from Dial's status and the citizen leg's hangup cause."""
    try:
        cause = int(citizen_cause) if citizen_cause else None
    except ValueError:
        cause = None
    if dial_status == "NOANSWER" and cause == _REJECTED:
        return Outcome.BUSY   # the phone declined it (拒接, SIP 603): reached and said no now, like busy
    if dial_status in _DIAL_STATUSES:
        return _DIAL_STATUSES[dial_status]
    if cause in _INVALID_CAUSES:
        return Outcome.INVALID_NUMBER
    if cause in _CAUSES:
        return _CAUSES[cause]
    # CONGESTION / CHANUNAVAIL without a cause about the number: the carrier's side (trunk busy or down)
    return Outcome.TRUNK_BUSY if dial_status in ("CONGESTION", "CHANUNAVAIL") else Outcome.FAILED


def outbound_result(event: AmiEvent) -> tuple[Outcome | None, str]:
    """The outcome a first HotlineOutbound event already decides (None: the citizen is being dialled)."""
    result = event.get("Result")
    if result == v.OUT_DIALING:
        return None, ""
    if result == v.OUT_REFUSED:
        return Outcome.INVALID_NUMBER, f"REFUSED-{event.get('Reason').upper()}"
    if result == v.OUT_TRUNK_BUSY:
        return Outcome.TRUNK_BUSY, "TRUNK_BUSY"
    return Outcome.FAILED, "NO_TRUNK" if result == v.OUT_NO_TRUNK else f"UNKNOWN-{result}"


class CallEvents(EventBuffer):
    """The AMI events of one outbound call only (a long call would otherwise keep every event of the center)."""

    def __init__(self, out_id: str):
        super().__init__()
        self.out_id = out_id

    def __call__(self, event: AmiEvent) -> None:
        if (event.get("ActionID") == self.out_id or event.get("OutID") == self.out_id
                or event.get("Linkedid") == self.out_id or event.get("Uniqueid") == self.out_id):
            super().__call__(event)


def _is_outbound(out_id: str, *results: str):
    return lambda e: (e.name == "UserEvent" and e.get("UserEvent") == "HotlineOutbound" and e.get("OutID") == out_id
                      and e.get("Result") in results)


class Dialer:
    """Places 回拨 calls and follows each to its end (one task per call, kept here until it is done)."""

    def __init__(self, db: Database, policy: CallbackPolicy, clock: Callable[[], dt.datetime] | None = None):
        self.db, self.policy, self.clock = db, policy, clock or utc_now
        self.following: dict[str, asyncio.Task[Outcome]] = {}

    def start(self, ami: AmiClient, out_id: str, extension: str, number: str) -> asyncio.Task[Outcome]:
        task = asyncio.get_running_loop().create_task(self.follow(ami, out_id, extension, number),
                                                      name=f"callback-{out_id}")
        self.following[out_id] = task
        task.add_done_callback(lambda _t: self.following.pop(out_id, None))
        return task

    async def close(self) -> None:
        tasks = list(self.following.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def follow(self, ami: AmiClient, out_id: str, extension: str, number: str) -> Outcome:
        events = CallEvents(out_id)
        ami.subscribe(events)
        try:
            outcome, status = await self._run(ami, events, out_id, extension, number)
        except Exception:
            log.exception("回拨 %s not followed to its end", out_id)
            outcome, status = Outcome.FAILED, "DESK_ERROR"
        finally:
            ami.unsubscribe(events)
        await self._store(store.finish, out_id, outcome, status, self.policy)
        return outcome

    async def _run(self, ami: AmiClient, events: CallEvents, out_id: str, extension: str,
                   number: str) -> tuple[Outcome, str]:
        policy = self.policy
        try:
            await ami.action(originate_action(out_id, extension, number, policy))
        except (AmiError, TimeoutError, OSError) as exc:
            log.warning("回拨 %s not originated: %s", out_id, exc)
            return Outcome.FAILED, "ORIGINATE_FAILED"
        response = await events.wait(lambda e: e.name == "OriginateResponse", policy.agent_ring_seconds + STEP_SECONDS)
        if response is None or response.get("Response") != "Success":
            reason = response.get("Reason") if response is not None else "TIMEOUT"
            return Outcome.AGENT_NO_ANSWER, f"AGENT-{reason}"
        await self._store(store.progress, out_id, "dialing")
        first = await events.wait(_is_outbound(out_id, v.OUT_DIALING, v.OUT_REFUSED, v.OUT_TRUNK_BUSY, v.OUT_NO_TRUNK),
                                  STEP_SECONDS)
        if first is None:
            await self._hang_up(ami, out_id)
            return Outcome.FAILED, "NO_OUTBOUND_EVENT"
        decided, status = outbound_result(first)
        if decided is not None:
            return decided, status
        dial_end = await events.wait(lambda e: e.name == "DialEnd" and e.get("Uniqueid") == out_id,
                                     policy.citizen_ring_seconds + STEP_SECONDS)
        if dial_end is not None and dial_end.get("DialStatus") == "ANSWER":
            await self._store(store.progress, out_id, "connected")
        ended = await events.wait(_is_outbound(out_id, v.OUT_ENDED), MAX_CALL)
        if ended is None:
            await self._hang_up(ami, out_id)
            return Outcome.FAILED, "NOT_SEEN_ENDING"
        dial_status = (dial_end.get("DialStatus") if dial_end is not None else "") or ended.get("DialStatus")
        citizen = next((e for e in events.events if e.name == "Hangup" and e.get("Uniqueid") != out_id), None)
        cause = citizen.get("Cause") if citizen is not None else ended.get("HangupCause")
        return dial_outcome(dial_status, cause), dial_status or "NONE"

    async def _hang_up(self, ami: AmiClient, out_id: str) -> None:
        try:
            await ami.action({"Action": "Hangup", "Channel": out_id})
        except (AmiError, TimeoutError, OSError):
            pass

    async def _store(self, step: Callable[..., object], out_id: str, *args: Any) -> None:
        """One step of the call in its own unit of work (``step(session, out_id, *args, now)``)."""
        def run() -> None:
            with self.db.session() as session:
                step(session, out_id, *args, self.clock())
        await asyncio.to_thread(run)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
