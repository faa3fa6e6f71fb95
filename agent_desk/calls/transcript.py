"""The live transcript at the desk: the IVR side's speaker turns (``hotline.contracts.transcript``) stored with the
call and forwarded to whoever may follow the call live.

Each turn published on ``hotline:transcript`` is stored once (``call_turns``, unique per call, speaker and seq) and
sent as ``{"type": "turn", "call_id", "turn"}`` on the pop channel (``hotline:pop:<user id>``, the desk's WebSocket)
of the agent on the call (the agent who answered it; for an agent's 回拨, transcribed under its ``out_id``, the
agent who placed it) and of every supervisor listening to it (监听/耳语/强插: ``register_spy`` when the desk
rings the supervisor's phone, ``end_spy`` when that spy leg hangs up). Turns said in the queue are stored and
shown to the agent with the call's transcript (``GET /api/v1/calls/{id}/transcript``) when it answers.

Nothing said is lost: the relay subscribes first, then reads back every call's stream (``hotline:transcript:<id>``,
kept 24 h) and stores what the database lacks, after a desk start and after every lost subscription; a turn the
database refused is read back from its call's stream on the next sweep. A turn of another contract version is
refused loudly (an error in the log, counted in ``turns_refused``), never half read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import redis as sync_redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from agent_desk.calls import pop
from agent_desk.db import models as m
from agent_desk.db.dialect import insert_for
from agent_desk.db.session import Database
from hotline import channelvars as v
from hotline.contracts import ContractMismatch
from hotline.contracts import transcript as contract
from hotline.contracts.base import text_fields
from hotline.contracts.transcript import Turn

log = logging.getLogger(__name__)

LIVE_SPY = "hotline:live:spy:{call_id}"             # hash: supervisor user id → spy channel id (who listens)
LIVE_SPY_LEG = "hotline:live:spy-leg:{channel_id}"  # "<call id> <user id>": the spy leg, to end the listening
SPY_TTL = 6 * 3600
SCAN_BATCH = 200
AFTER_HANGUP_SECONDS = 120   # turns of a call that just ended still reach its agent (the ASR's lag)


# ── the contract's entries ───────────────────────────────────────────────────
def decode_entry(fields: Mapping[Any, Any]) -> Turn:
    """A stream entry of the call's transcript: the turn as one JSON field (``turn``), or its fields flat (as the
    survey stream carries its entries). ``ContractMismatch`` for anything this side cannot read."""
    text = text_fields(dict(fields))
    if "turn" in text:
        return Turn.decode(text["turn"])
    if len(text) == 1:
        return Turn.decode(next(iter(text.values())))
    return Turn.decode(text)


def message(turn: Turn) -> dict[str, Any]:
    """What the desk's WebSocket carries to a page following the call."""
    return {"type": "turn", "call_id": turn.call_id, "turn": turn.to_dict()}


def at_of(turn: Turn) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(turn.at)
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def sort_key(turn: Turn) -> tuple[float, str, int]:
    """Reading order: where the phrase began in the call's capture (both speakers share that clock)."""
    return (turn.start, turn.speaker, turn.seq)


# ── the database ─────────────────────────────────────────────────────────────
def store(session: Session, turns: Iterable[Turn]) -> int:
    """Insert the turns the database lacks (a turn already stored is left as it is); returns how many were new."""
    rows = [{"call_id": t.call_id, "speaker": t.speaker, "seq": t.seq, "phase": t.phase, "status": t.status,
             "text": t.text, "start_s": t.start, "end_s": t.end, "engine": t.engine[:32], "at": at_of(t),
             "stored_at": dt.datetime.now(dt.UTC)} for t in turns]
    if not rows:
        return 0
    insert = insert_for(session)
    result: Any = session.execute(insert(m.CallTurn).values(rows)
                                  .on_conflict_do_nothing(index_elements=["call_id", "speaker", "seq"]))
    return max(result.rowcount or 0, 0)


def stored_turns(session: Session, call_id: str) -> list[Turn]:
    rows = session.scalars(select(m.CallTurn).where(m.CallTurn.call_id == call_id)).all()
    return [turn_of(row) for row in rows]


def turn_of(row: m.CallTurn) -> Turn:
    return Turn(call_id=row.call_id, speaker=row.speaker, seq=row.seq, phase=row.phase,
                status=row.status, text=row.text, start=row.start_s, end=row.end_s,
                engine=row.engine, at=row.at.isoformat(timespec="milliseconds"))


def agent_on_call(session: Session, call_id: str) -> int | None:
    """The desk user who answered ``call_id`` (or placed it: an agent's 回拨 is transcribed under its ``out_id``),
    while it is up or just ended (transcription lags the voice by seconds: the last phrases reach the agent's page
    as it wraps up), or None."""
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=AFTER_HANGUP_SECONDS)
    agent = session.scalar(select(m.Call.agent_user_id).where(
        m.Call.call_id == call_id, m.Call.answered_at.is_not(None),
        or_(m.Call.ended_at.is_(None), m.Call.ended_at > recent)))
    if agent is not None or not call_id.startswith(v.CALLBACK_ID_PREFIX):
        return agent
    return session.scalar(select(m.CallbackCall.agent_user_id).where(
        m.CallbackCall.out_id == call_id, or_(m.CallbackCall.ended_at.is_(None), m.CallbackCall.ended_at > recent)))


def callback_call(session: Session, call_id: str) -> m.CallbackCall | None:
    """The agent's 回拨 whose transcript is ``call_id`` (its ``out_id``), or None."""
    if not call_id.startswith(v.CALLBACK_ID_PREFIX):
        return None
    return session.scalar(select(m.CallbackCall).where(m.CallbackCall.out_id == call_id))


def merged(stored: Iterable[Turn], streamed: Iterable[Turn]) -> list[Turn]:
    """Stored turns and those still only in the call's stream, once each, in reading order."""
    by_key: dict[tuple[str, int], Turn] = {}
    for turn in [*streamed, *stored]:   # the stored row wins
        by_key[(turn.speaker, turn.seq)] = turn
    return sorted(by_key.values(), key=sort_key)


def read_stream(client: sync_redis.Redis, call_id: str) -> list[Turn]:
    """The turns of ``call_id`` still in Redis (for a page that opens mid-call before the relay stored them)."""
    turns = []
    entries: Any = client.xrange(contract.key(call_id), count=contract.MAXLEN)
    for _entry_id, fields in entries:
        try:
            turns.append(decode_entry(fields))
        except ContractMismatch as exc:
            log.error("transcript entry of call %s not shown: %s", call_id, exc)
    return turns


# ── who listens ──────────────────────────────────────────────────────────────
def register_spy(client: sync_redis.Redis, call_id: str, user_id: int, channel_id: str) -> None:
    """A supervisor's phone is ringing to listen to (whisper to, barge into) ``call_id``: send it the live turns."""
    with client.pipeline(transaction=False) as pipe:
        pipe.hset(LIVE_SPY.format(call_id=call_id), str(user_id), channel_id)
        pipe.expire(LIVE_SPY.format(call_id=call_id), SPY_TTL)
        pipe.set(LIVE_SPY_LEG.format(channel_id=channel_id), f"{call_id} {user_id}", ex=SPY_TTL)
        pipe.execute()


async def end_spy(client: aioredis.Redis, channel_id: str) -> bool:
    """The spy leg ``channel_id`` hung up: that supervisor no longer follows the call. False if it was unknown."""
    leg = LIVE_SPY_LEG.format(channel_id=channel_id)
    value = await client.get(leg)
    if not value:
        return False
    call_id, _, user_id = (value.decode() if isinstance(value, bytes) else str(value)).partition(" ")
    spies = LIVE_SPY.format(call_id=call_id)
    if (await client.hget(spies, user_id) or b"") in (channel_id, channel_id.encode()):
        await client.hdel(spies, user_id)
    await client.delete(leg)
    return True


async def listeners_of(client: aioredis.Redis, call_id: str) -> list[int]:
    """The supervisors listening to ``call_id``."""
    ids = await client.hkeys(LIVE_SPY.format(call_id=call_id))
    return [int(i) for i in ids if str(i.decode() if isinstance(i, bytes) else i).isdigit()]


# ── the relay ────────────────────────────────────────────────────────────────
class TranscriptRelay:
    """Stores and forwards the turns of the transcript channel (run by the call listener, one per center)."""

    def __init__(self, db: Database, redis: aioredis.Redis, agent_of_call: Mapping[str, int] | None = None,
                 sweep_interval: float = 2.0):
        self.db, self.redis = db, redis
        self.agent_of_call = agent_of_call if agent_of_call is not None else {}   # the tracker's, kept current
        self.sweep_interval = sweep_interval
        self.unsynced: set[str] = set()   # calls with a turn the database refused: read back from the stream
        self.turns_received = self.turns_stored = self.turns_forwarded = self.turns_refused = 0
        self.synced = asyncio.Event()     # set after each read-back of every stream (tests, readiness)

    async def run(self) -> None:
        """Until cancelled: subscribe, read back what the database lacks, then store and forward each turn."""
        sweeping = asyncio.create_task(self._sweep_loop(), name="transcript-sweep")
        try:
            while True:
                pubsub = self.redis.pubsub()
                try:
                    await pubsub.subscribe(contract.CHANNEL)   # first: nothing said while reading back is missed
                    await self.sync_all()
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            await self.take(item["data"])
                except (RedisError, OSError) as exc:
                    log.warning("transcript channel lost (%s); retrying", exc)
                    await asyncio.sleep(1)
                finally:
                    await pubsub.aclose()
        finally:
            sweeping.cancel()
            await asyncio.gather(sweeping, return_exceptions=True)

    async def take(self, raw: str | bytes) -> None:
        """One published turn: stored, then forwarded to the agent on the call and the supervisors listening."""
        self.turns_received += 1
        try:
            turn = Turn.decode(raw)
        except ContractMismatch as exc:
            self.turns_refused += 1
            log.error("transcript turn refused, not stored nor shown: %s", exc)
            return
        agent = self.agent_of_call.get(turn.call_id)
        try:
            new, on_call = await asyncio.to_thread(self._store_one, turn)
            self.turns_stored += new
            agent = agent if agent is not None else on_call
        except (SQLAlchemyError, OSError) as exc:
            self.unsynced.add(turn.call_id)
            log.warning("transcript turn of call %s not stored (%s); read back from its stream later",
                        turn.call_id, exc)
        await self.forward(turn, agent)

    def _store_one(self, turn: Turn) -> tuple[int, int | None]:
        with self.db.session() as session:
            return store(session, [turn]), agent_on_call(session, turn.call_id)

    async def forward(self, turn: Turn, agent: int | None) -> None:
        try:
            users = await listeners_of(self.redis, turn.call_id)
            if agent is not None:
                users = [agent, *(u for u in users if u != agent)]
            text = pop.encode(message(turn))
            for user_id in users:
                await self.redis.publish(pop.channel_for(user_id), text)
                self.turns_forwarded += 1
        except (RedisError, OSError) as exc:
            log.warning("transcript turn of call %s not forwarded: %s", turn.call_id, exc)

    # ── reading back ─────────────────────────────────────────────────────────
    async def sync_all(self) -> int:
        """Every call stream in Redis against the database: the turns it lacks are stored. Returns how many."""
        added = 0
        pattern = contract.key("*")
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=pattern, count=SCAN_BATCH, _type="stream"):
            batch.append(key.decode() if isinstance(key, bytes) else key)
            if len(batch) >= SCAN_BATCH:
                added += await self._sync_keys(batch)
                batch = []
        added += await self._sync_keys(batch)
        self.synced.set()
        if added:
            log.info("transcript: %d turns read back from Redis and stored", added)
        return added

    async def _sync_keys(self, keys: list[str]) -> int:
        if not keys:
            return 0
        prefix = contract.key("")
        calls = [k[len(prefix):] for k in keys]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.xlen(key)
            lengths = await pipe.execute()
        counts = await asyncio.to_thread(self._stored_counts, calls)
        added = 0
        for call_id, length in zip(calls, lengths):
            if int(length or 0) > counts.get(call_id, 0):
                added += await self.sync_call(call_id)
        return added

    def _stored_counts(self, calls: list[str]) -> dict[str, int]:
        with self.db.session() as session:
            rows = session.execute(select(m.CallTurn.call_id, func.count()).where(m.CallTurn.call_id.in_(calls))
                                   .group_by(m.CallTurn.call_id)).all()
        return {call_id: int(count) for call_id, count in rows}

    async def sync_call(self, call_id: str) -> int:
        """Store what the call's stream holds and the database lacks."""
        turns = []
        entries: Any = await self.redis.xrange(contract.key(call_id), count=contract.MAXLEN)
        for _entry_id, fields in entries:
            try:
                turn = decode_entry(fields)
            except ContractMismatch as exc:
                log.error("transcript entry of call %s refused, not stored: %s", call_id, exc)
                continue
            if turn.call_id == call_id:
                turns.append(turn)
        added = await asyncio.to_thread(self._store_many, turns)
        self.turns_stored += added
        return added

    def _store_many(self, turns: list[Turn]) -> int:
        with self.db.session() as session:
            return store(session, turns)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            for call_id in list(self.unsynced):
                try:
                    await self.sync_call(call_id)
                    self.unsynced.discard(call_id)
                except (SQLAlchemyError, OSError, RedisError) as exc:
                    log.warning("transcript of call %s not read back yet: %s", call_id, exc)
                    break
