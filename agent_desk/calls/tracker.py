"""Applies typed call events: call rows in the database, live state in Redis, pops to agents.

Database work is synchronous (SQLAlchemy sessions) and runs in a worker thread; events are applied one at a
time in arrival order. Redis being down costs the live view and the push, never the call record: an agent's
page also fetches its current call from the database (``/api/calls/current``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.auth.privacy import audit
from agent_desk.auth.sessions import Principal
from agent_desk.callbacks import store as callbacks
from agent_desk.calls import events as ev
from agent_desk.calls import pop, transfers
from agent_desk.calls.recording_watch import RecordingWatch
from agent_desk.db import models as m
from agent_desk.db.session import Database
from agent_desk.telephony.recording import recording_path
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.store import append_note
from hotline.contracts import ContractMismatch
from hotline.contracts import prefill as prefill_contract
from hotline.contracts.prefill import Prefill
from hotline.privacy import masked

log = logging.getLogger(__name__)

LIVE_CALL = "hotline:live:call:{call_id}"
LIVE_CALLS = "hotline:live:calls"
LIVE_AGENT = "hotline:live:agent:{agent}"
LIVE_TTL = 6 * 3600
# Channels seen coming up, kept until a queue join names one as a call's (its arrival) or they are this old or
# this many: most channels are agent legs and Local halves that never do.
ARRIVAL_KEPT = dt.timedelta(hours=2)
ARRIVALS_MAX = 20_000


def prefill_usable(prefill: Prefill | None) -> bool:
    """The agent answers with a usable prefill (GB/T 33358 figure, issue 12): there is one, and it holds some of
    the caller's words (a non-empty transcript, final or not yet)."""
    return prefill is not None and bool(prefill.transcript.strip())


def _callbacks(apply, session: Session, call: m.Call, at: dt.datetime) -> None:
    """Callback tasks (``agent_desk.callbacks``) follow the call in its unit of work, in a savepoint: a fault
    there is logged and costs the task, never the call record."""
    try:
        with session.begin_nested():
            apply(session, call, at)
    except Exception:
        log.exception("callback task not updated for call %s", call.call_id)


class CallTracker:
    def __init__(self, db: Database, redis: aioredis.Redis | None, line_names: dict[str, str] | None = None,
                 city_names: dict[str, str] | None = None, recordings: str | None = None):
        self.db, self.redis = db, redis
        self.recordings = recordings  # where Asterisk records queued calls (the dialplan's HOTLINE_RECORDINGS)
        self.line_names, self.city_names = line_names or {}, city_names or {}
        self.agent_of_call: dict[str, int] = {}   # call id → agent user id, for live prefill updates
        self.arrivals: OrderedDict[str, dt.datetime] = OrderedDict()   # channel Uniqueid → when it came up
        self.pops_sent = 0
        self.watch: RecordingWatch | None = None   # the listener's recordings watch: told which calls are recorded
        self.node = ""   # the Asterisk node whose events this tracker applies, in a cluster (set by its listener)

    async def apply(self, event: ev.CallEvent) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}")
        await handler(event)

    # ── events ───────────────────────────────────────────────────────────────
    async def _on_ChannelCreated(self, e: ev.ChannelCreated) -> None:
        self.arrivals[e.uniqueid] = e.at
        self.arrivals.move_to_end(e.uniqueid)
        while self.arrivals and (len(self.arrivals) > ARRIVALS_MAX
                                 or next(iter(self.arrivals.values())) < e.at - ARRIVAL_KEPT):
            self.arrivals.popitem(last=False)

    async def _on_QueueJoined(self, e: ev.QueueJoined) -> None:
        arrived = self.arrivals.pop(e.facts.call_id, None)
        await asyncio.to_thread(self._joined, e, arrived)
        await self._live_call(e.facts.call_id, state="waiting", queue=e.facts.queue, line=e.facts.line,
                              subplatform=e.facts.subplatform, since=e.at.isoformat())

    async def _on_StillWaiting(self, e: ev.StillWaiting) -> None:
        """Callers waiting at the listener's login whose joining it missed: recorded as queued, shown as waiting."""
        missed = await asyncio.to_thread(self._missed_joins, e.callers)
        for joined in missed:
            await self._live_call(joined.facts.call_id, state="waiting", queue=joined.facts.queue,
                                  since=joined.at.isoformat())
        if missed:
            log.info("%d waiting callers joined while the listener was away; recorded as queued", len(missed))

    async def _on_AgentRinging(self, e: ev.AgentRinging) -> None:
        await self._live_agent(e.agent, state="ringing", call_id=e.call_id, since=e.at.isoformat())

    async def _on_AgentAnswered(self, e: ev.AgentAnswered) -> None:
        prefill = await self._prefill(e.facts.call_id)
        user_id, message = await asyncio.to_thread(self._answered, e, prefill)
        await self._live_call(e.facts.call_id, state="talking", agent=e.agent, since=e.at.isoformat())
        await self._live_agent(e.agent, state="on_call", call_id=e.facts.call_id, since=e.at.isoformat())
        if self.watch is not None and self.recordings:   # recorded from the answer on: its file should grow
            self.watch.track(e.facts.call_id)
        if user_id is None:
            log.warning("call %s answered by %s, who is no desk user: no pop", e.facts.call_id, e.agent)
            return
        self.agent_of_call[e.facts.call_id] = user_id
        await self._publish(user_id, message)   # with the call's warnings (录音失败 told before the answer)
        self.pops_sent += 1

    async def _on_RecordingFailed(self, e: ev.RecordingFailed) -> None:
        """Told by the agent-connect dialplan just before the bridge, i.e. before the AgentConnect event: on the
        call's record, so the answer's pop lists it (``pop.build`` ``warnings``), as does the desk after a reload
        (``/api/calls/current``) and where the recording is offered; sent at once to an agent who already has the
        call."""
        log.warning("call %s: its recording cannot be written; the agent will be told", e.call_id)
        await asyncio.to_thread(self._recording_fault, e.call_id, "failed", e.at)
        user_id = self.agent_of_call.get(e.call_id)
        if user_id is not None:
            await self._publish(user_id, pop.warning(e.call_id, "recording_failed"))

    async def _on_RecordingInterrupted(self, e: ev.RecordingInterrupted) -> None:
        """The call's recording stopped being written during the conversation (``recording_watch``): marked
        incomplete on the call's record, and its agent told (录音中断). A call whose recording already failed at the
        answer keeps that mark and its one warning."""
        if not await asyncio.to_thread(self._recording_fault, e.call_id, "interrupted", e.at):
            return
        log.warning("call %s: its recording stopped being written; the agent will be told", e.call_id)
        user_id = self.agent_of_call.get(e.call_id)
        if user_id is not None:
            await self._publish(user_id, pop.warning(e.call_id, "recording_interrupted"))

    async def _on_AgentFinished(self, e: ev.AgentFinished) -> None:
        if self.watch is not None:   # the bridge is over: the recording stops by design
            self.watch.forget(e.call_id)
        await self._live_agent(e.agent, state="idle", call_id="", since=e.at.isoformat())

    async def _on_Abandoned(self, e: ev.Abandoned) -> None:
        await asyncio.to_thread(self._update, e.call_id, outcome="abandoned")

    async def _on_CallEnded(self, e: ev.CallEnded) -> None:
        arrived = self.arrivals.pop(e.facts.call_id, None)   # still here: it ended in the IVR without queueing
        prefill = await self._prefill(e.facts.call_id)
        await asyncio.to_thread(self._ended, e, prefill, arrived)
        self.agent_of_call.pop(e.facts.call_id, None)
        if self.watch is not None:
            self.watch.forget(e.facts.call_id)
        if self.redis is not None:
            try:
                await self.redis.srem(LIVE_CALLS, e.facts.call_id)
                await self.redis.delete(LIVE_CALL.format(call_id=e.facts.call_id))
            except RedisError as exc:
                log.warning("live state not cleared for %s: %s", e.facts.call_id, exc)

    async def _on_TransferRecorded(self, e: ev.TransferRecorded) -> None:
        await asyncio.to_thread(self._transfer, e)

    # ── from the IVR (Redis) ─────────────────────────────────────────────────
    async def prefill_changed(self, prefill: Prefill) -> None:
        """The IVR's live transcript moved on: forward it to the agent who has the call, if any yet."""
        user_id = self.agent_of_call.get(prefill.call_id)
        if user_id is not None:
            await self._publish(user_id, {"type": "prefill", "call_id": prefill.call_id, "prefill": prefill.to_dict()})

    def record_survey(self, call_id: str, result: str, digits: str, at: dt.datetime) -> bool:
        """满意度评价 after the agent hung up: stored on the call and in the history of its tickets."""
        with self.db.session() as session:
            call = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
            if call is None:
                call = m.Call(call_id=call_id, started_at=at)
                session.add(call)
            call.survey_result, call.survey_at = result, at
            session.flush()
            for ticket in session.scalars(select(m.Ticket).where(m.Ticket.call_id == call.id)):
                append_note(session, ticket, "survey", at, "ivr", lc.Role.SYSTEM,
                            {"call_id": call_id, "result": result, "digits": digits})
        return True

    # ── database ─────────────────────────────────────────────────────────────
    def _joined(self, e: ev.QueueJoined, arrived: dt.datetime | None) -> None:
        """The first queue the caller joins starts the wait (an overflow to the next queue does not restart it);
        the channel's arrival, when this desk saw it, starts the call."""
        with self.db.session() as session:
            call = self._call(session, e.facts, arrived or e.at)
            if call.queued_at is None:
                call.queued_at = e.at
            if arrived is not None and call.arrived_at is None:
                call.arrived_at = arrived

    def _missed_joins(self, callers: tuple[ev.QueueJoined, ...]) -> list[ev.QueueJoined]:
        if not callers:
            return []
        with self.db.session() as session:
            known = set(session.scalars(select(m.Call.call_id).where(
                m.Call.call_id.in_([c.facts.call_id for c in callers]), m.Call.queued_at.is_not(None))))
        missed = [c for c in callers if c.facts.call_id not in known]
        for joined in missed:
            self._joined(joined, None)
        return missed

    def _call(self, session: Session, facts: ev.CallFacts, started: dt.datetime | None = None) -> m.Call:
        call = session.scalar(select(m.Call).where(m.Call.call_id == facts.call_id))
        if call is None:
            call = m.Call(call_id=facts.call_id, started_at=started or dt.datetime.now(dt.UTC))
            session.add(call)
        for name in ("caller", "line", "line_class", "subplatform"):
            value = getattr(facts, name)
            if value and not getattr(call, name):
                setattr(call, name, value)
        if facts.queue:  # the latest queue: an overflow moves the caller on
            call.queue = facts.queue
        return call

    def _recording_fault(self, call_id: str, fault: str, at: dt.datetime) -> bool:
        """``calls.recording_fault``; the row is made when the fault comes first (no queue join seen). ``failed``
        (nothing recorded) is never turned into ``interrupted``. True when the call's fault became ``fault``."""
        with self.db.session() as session:
            call = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
            if call is None:
                call = m.Call(call_id=call_id, started_at=at)
                session.add(call)
            if call.recording_fault in ("failed", fault):
                return False
            call.recording_fault = fault
            return True

    def _update(self, call_id: str, **changes) -> None:
        with self.db.session() as session:
            call = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
            if call is None:
                log.warning("event for unknown call %s: %s", call_id, masked(changes))
                return
            for key, value in changes.items():
                setattr(call, key, value)

    def _answered(self, e: ev.AgentAnswered, prefill: Prefill | None) -> tuple[int | None, dict]:
        with self.db.session() as session:
            call = self._call(session, e.facts, e.at)
            user_id = pop.agent_user(session, e.agent)
            call.agent_extension, call.agent_user_id = e.agent, user_id
            call.outcome = "answered"
            if call.answered_at is None:   # the wait ended at the first answer; a transfer answers again
                call.answered_at = e.at
            if self.recordings and not call.recording:  # the queue's MixMonitor records from the answer on
                call.recording = recording_path(self.recordings, call.call_id)
            if prefill is not None:
                call.prefill = prefill.to_dict()
            if call.prefill_usable is None:   # as the first agent found it (a transfer answers again)
                call.prefill_usable = prefill_usable(prefill)
            session.flush()
            _callbacks(callbacks.caller_answered, session, call, e.at)   # got through: their callback task is done
            message = pop.build(session, call, prefill, self.line_names, self.city_names)
            if user_id is not None and call.caller:
                user = session.get(m.User, user_id)
                assert user is not None   # agent_user found it a moment ago
                who = Principal.of(user, None)
                audit(session, who, "read_personal_data", "call", call.call_id, pop.audit_detail(message),
                      reason=f"current_caller call={call.call_id}")
        return user_id, message

    def _ended(self, e: ev.CallEnded, prefill: Prefill | None, arrived: dt.datetime | None = None) -> None:
        """The call's end. A call that never queued starts at its channel's arrival, when this desk saw it, so the
        time its caller spent in the IVR before hanging up is kept (its callback task shows it as the wait)."""
        with self.db.session() as session:
            call = self._call(session, e.facts, arrived or e.at)
            if arrived is not None and call.arrived_at is None:
                call.arrived_at = arrived
            call.ended_at, call.hangup_cause = e.at, e.cause
            if call.outcome is None:
                call.outcome = "abandoned" if call.queued_at else "ivr_only"
            if prefill is not None:
                call.prefill = prefill.to_dict()
            if call.answered_at is None:   # hung up in the IVR or the queue, or sent away: call them back
                session.flush()
                _callbacks(callbacks.missed_call, session, call, e.at)

    def _transfer(self, e: ev.TransferRecorded) -> None:
        with self.db.session() as session:
            transfers.record(session, e.call_id, e.data, e.at)

    # ── Redis ────────────────────────────────────────────────────────────────
    async def _prefill(self, call_id: str) -> Prefill | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(prefill_contract.key(call_id))
        except RedisError as exc:
            log.warning("prefill of %s not read: %s", call_id, exc)
            return None
        if not raw:
            return None
        try:
            return Prefill.decode(raw)
        except ContractMismatch as exc:
            log.error("prefill of %s not shown: %s", call_id, exc)
            return None

    async def _publish(self, user_id: int, message: dict) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.publish(pop.channel_for(user_id), pop.encode(message))
        except RedisError as exc:
            log.warning("pop to user %s not sent: %s", user_id, exc)

    async def _live_call(self, call_id: str, **fields: str) -> None:
        if self.node:   # a cluster: which node the call is on, for the desk's actions on it
            fields["node"] = self.node
        await self._live(LIVE_CALL.format(call_id=call_id), fields, member=call_id)

    async def _live_agent(self, agent: str, **fields: str) -> None:
        await self._live(LIVE_AGENT.format(agent=agent), fields)

    async def _live(self, key: str, fields: dict[str, str], member: str | None = None) -> None:
        if self.redis is None:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={k: str(val) for k, val in fields.items()})
                pipe.expire(key, LIVE_TTL)
                if member is not None:
                    pipe.sadd(LIVE_CALLS, member)
                await pipe.execute()
        except RedisError as exc:
            log.warning("live state %s not written: %s", key, exc)
