"""The one process that owns the AMI connection (panoramisk) and feeds the call tracker.

Three inputs, one tracker: AMI events (parsed to typed call events, applied in arrival order), the IVR's
prefill channel in Redis (live transcript → the agent's page), and the IVR's survey stream (results stored on
the call and its tickets; a consumer group remembers what was stored, so a restart loses nothing). Beside them
the IVR's speaker turns (``agent_desk.calls.transcript``): stored with the call and forwarded to the agent on it
and to the supervisors listening (a supervisor's spy leg hanging up, seen here on AMI, ends that).

The same AMI events feed the live wallboard (``agent_desk.supervision.wallboard``), applied as they arrive;
its snapshot goes to Redis (``SNAPSHOT_KEY`` and the ``hotline:wallboard`` channel) at most every
``board_interval`` seconds after a change, and once a second anyway (waits tick, wrap-ups end, midnight). After
every AMI login (Asterisk sends ``FullyBooted``; panoramisk reconnects on its own) the board is rebuilt from
QueueStatus + CoreShowChannels; while AMI is down it says so. Every ``CHECK_EVERY`` s its waiting callers are
compared with QueueStatus: a difference that lasts is logged, caller by caller, and the board rebuilt.

Under ``hotline run`` the listener is a process of its own (``hotline listener``), started again when it dies. A
new one picks up what it can: the board from Asterisk as above, the survey stream's pending entries first, the
turns the database lacks, and the calls already with an agent (from the call records, for their live prefill; in a
cluster its own node's calls only, or every node's listener would forward their prefill).
AMI events sent while no listener was connected are not replayed: a call that was answered or ended in those
seconds keeps the record of its last event seen.

多节点集群 (issue 15): one listener per Asterisk node (``node``, its id; ``SINGLE_NODE`` on a single node, where
everything above is unchanged). Each node's call ids are its own (every node's asterisk.conf has its own
``systemname``, which prefixes its Uniqueids), so the nodes' call records share the one database; the live call
state says which node a call is on. A node's listener keeps its node's board and writes it as its part
(``cluster_board.node_key``); then, in one optimistic Redis transaction (WATCH on every node's part), it merges the
latest parts into the cluster's board (``cluster_board.merge``) and writes and publishes that as ``SNAPSHOT_KEY``.
A merge aborted because another node's part changed meanwhile is simply dropped: that node's listener merges next,
with both parts, so an older merge never overwrites a newer one. Every listener merges at least once a second, so a
node whose listener is gone leaves the board (节点离线) within ``cluster_board.STALE_SECONDS``.
The Redis-only duties (the survey stream, the transcript relay) are the cluster's, not a node's: one listener runs
them at a time, or each turn would be forwarded once per node. Which one is a lease in Redis (``DUTY_KEY``, taken
with SET NX and renewed under WATCH every ``DUTY_RENEW`` s, lapsing after ``DUTY_TTL`` s): when the machine of the
listener that holds it dies, another node's listener takes the duties over within ``DUTY_TTL`` seconds. A single
node's listener runs them always, as before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from agent_desk import streams
from agent_desk.calls import events as ev
from agent_desk.calls import recording_watch
from agent_desk.calls.recording_watch import RecordingWatch
from agent_desk.calls.transcript import TranscriptRelay, end_spy
from agent_desk.calls.tracker import CallTracker
from agent_desk.db import models as m
from agent_desk.supervision import cluster_board
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, Wallboard
from agent_desk.supervision.warnings import CHANNEL as BOARD_CHANNEL   # shared with early warning
from hotline import channelvars as v
from hotline.ami import AmiClient, AmiError, AmiEvent
from hotline.contracts import ContractMismatch
from hotline.contracts import survey
from hotline.contracts.prefill import CHANNEL as PREFILL_CHANNEL
from hotline.contracts.prefill import Prefill
from hotline.privacy import describe
from hotline.site import on_node

log = logging.getLogger(__name__)

STOP_GRACE = 10.0   # seconds a stopping listener waits for each of its tasks to end once cancelled

MAX_RETRY_DELAY = 30.0   # seconds: the back-off of a call event the database refuses stops growing here
BUG_ATTEMPTS = 3
SURVEYS = streams.ResultStream(survey.STREAM, survey.DESK_GROUP, survey.REJECTED_STREAM, survey.STREAM_MAXLEN,
                               "survey")
IN_PROGRESS = dt.timedelta(hours=6)   # a call answered longer ago than this and not ended is not looked for
SINGLE_NODE = ""                      # the node id of a center on one Asterisk (agent_desk.bootstrap.SINGLE_NODE)
NODE_PART_TTL = 24 * 3600             # a node's part of the board outlives a day without its listener, no more
DUTY_KEY = "hotline:live:listener-duties"   # who runs the cluster's survey stream and transcript relay (a lease)
DUTY_TTL = 6.0                        # seconds: a lease not renewed for this long lapses
DUTY_RENEW = 2.0                      # seconds between renewals (and between attempts to take a lapsed lease)
REBUILD_RETRY = 2.0                   # seconds between attempts to rebuild the wallboard that failed (AMI up)
CHECK_EVERY = 15.0                    # seconds between checks of the board's waiting callers against QueueStatus
CHECK_AGAIN = 1.0                     # seconds before a difference found is looked for again (lasting, or in flight)
BOARD_CORRECTED = "wallboard differed from Asterisk's queues and is rebuilt"   # the log line's start


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    username: str
    secret: str


class CallListener:
    def __init__(self, tracker: CallTracker, ami: AmiSettings, redis: aioredis.Redis | None,
                 wallboard: Wallboard | None = None, board_interval: float = 0.1, retry_delay: float = 2.0, *,
                 node: str = SINGLE_NODE, cluster_nodes: Sequence[str] = (), system_name: str = "",
                 duty_renew: float = DUTY_RENEW, duty_ttl: float = DUTY_TTL):
        """``node``: the Asterisk node this listener hears (a cluster's node id); ``cluster_nodes``: every node of
        the cluster, whose parts make the board; ``system_name``: that node's Asterisk ``systemname``, which starts
        its call ids (the calls read back at start are those). A cluster's listeners share the survey stream and the
        transcript relay through a lease (``duty_renew``, ``duty_ttl``: see the module)."""
        if node != SINGLE_NODE and node not in cluster_nodes:
            raise ValueError(f"node {node!r} is not one of the cluster's nodes {list(cluster_nodes)}")
        if node != SINGLE_NODE and not system_name:
            raise ValueError(f"node {node!r}: its Asterisk's systemname is needed (it starts the node's call ids)")
        self.tracker, self.ami_settings, self.redis = tracker, ami, redis
        self.node, self.cluster_nodes, self.system_name = node, tuple(cluster_nodes), system_name
        self.duty_renew, self.duty_ttl = duty_renew, duty_ttl
        self.duty_holder = f"{node}:{uuid.uuid4().hex[:12]}"   # this listener, as the lease names it
        self.has_duties = False
        self._duties: list[asyncio.Task] = []
        tracker.node = node
        self.wallboard, self.board_interval = wallboard, board_interval
        self.retry_delay = retry_delay   # seconds before a survey or call event the database refused is tried again
        self.events_retried = 0
        self.failed: list[ev.CallEvent] = []   # events that failed BUG_ATTEMPTS times for a reason not the database's
        self.queue: asyncio.Queue[ev.CallEvent] = asyncio.Queue()
        self.ami: AmiClient | None = None
        self.events_seen = 0
        self.events_applied = 0
        self.boards_published = 0
        self.merges_superseded = 0
        self._board_changed = asyncio.Event()
        self._rebuilding: asyncio.Task | None = None
        self._rebuild_again = False
        self.board_corrections = 0   # checks that found the board's waiting callers wrong and rebuilt it
        # While the board is rebuilt, the events that arrive wait here and are applied on top of the snapshot
        # (applied at once, a join that came after QueueStatus's snapshot would be wiped by it)
        self._held: list[AmiEvent] | None = None
        self._tasks: list[asyncio.Task] = []
        self.transcripts = TranscriptRelay(tracker.db, redis, tracker.agent_of_call) if redis is not None else None
        self._spies_ending: set[asyncio.Task] = set()

    def _on_ami(self, event: AmiEvent) -> None:
        self.events_seen += 1
        typed = ev.parse(event)
        if typed is not None:
            self.queue.put_nowait(typed)
        elif event.name == "Hangup" and self.redis is not None and event.fields.get("Uniqueid", "").startswith("spy-"):
            self._spy_leg_ended(event.fields["Uniqueid"])
        if self.wallboard is not None:
            if event.name == "FullyBooted":   # after every AMI login: the live part comes from Asterisk
                self._rebuild_board_soon()
            elif self._held is not None:
                self._held.append(event)
            elif self.wallboard.apply(event):
                self._board_changed.set()

    def _spy_leg_ended(self, channel_id: str) -> None:
        """A supervisor's spy leg (``agent_desk.telephony.spy`` names it ``spy-…``) hung up: no more live turns."""
        assert self.redis is not None   # called only with Redis
        task = asyncio.get_running_loop().create_task(end_spy(self.redis, channel_id), name="spy-ended")
        self._spies_ending.add(task)
        task.add_done_callback(self._spy_ending_done)

    def _spy_ending_done(self, task: asyncio.Task) -> None:
        self._spies_ending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("spy leg not cleared: %s", task.exception())

    def _on_ami_lost(self, _manager, _exc) -> None:
        # panoramisk reconnects by itself but keeps saying "authenticated": desk actions must see it is down.
        if self.ami is not None:
            self.ami.manager.authenticated = False
        if self.wallboard is not None:
            self.wallboard.set_connected(False)
            self._board_changed.set()

    async def start(self) -> None:
        self.ami = AmiClient(self.ami_settings.host, self.ami_settings.port, self.ami_settings.username,
                             self.ami_settings.secret)
        self.ami.subscribe(self._on_ami)
        self.ami.manager.on_disconnect = self._on_ami_lost
        await self.ami.connect()
        await self.read_back()
        self._tasks = [asyncio.create_task(self._apply_loop(), name="calls-apply")]
        if self.tracker.watch is not None:
            self._tasks.append(asyncio.create_task(self._watch_loop(self.tracker.watch), name="recordings-watch"))
        if self.redis is not None:
            # every node's listener forwards the prefills of the calls answered on its node (tracker.agent_of_call)
            self._tasks.append(asyncio.create_task(self._prefill_loop(), name="calls-prefill"))
            if self.node == SINGLE_NODE:
                self._start_duties()
            else:
                self._tasks.append(asyncio.create_task(self._duty_loop(), name="duty-lease"))
            if self.wallboard is not None:
                self._tasks.append(asyncio.create_task(self._board_loop(), name="board-publish"))
        if self.wallboard is not None:
            self._tasks.append(asyncio.create_task(self._check_loop(), name="board-check"))

    async def read_back(self) -> None:
        """A listener started again mid-call: the calls already with an agent keep their live prefill, and their
        recordings are watched again."""
        try:
            with_agent = await asyncio.to_thread(self._calls_with_an_agent)
            self.tracker.agent_of_call.update(with_agent)
            if self.tracker.watch is not None:
                for call_id in with_agent:
                    self.tracker.watch.track(call_id)
        except SQLAlchemyError as exc:
            log.warning("calls in progress not read back (%s); their live prefill waits for the next answer", exc)

    def _calls_with_an_agent(self) -> dict[str, int]:
        """Call id → agent user id of the calls answered and not ended in the last ``IN_PROGRESS`` (what the
        tracker keeps in memory to forward prefill updates, lost when the listener process died). In a cluster,
        this node's calls only (their ids start with its ``systemname``): every node's listener hears the prefill
        channel, so a call another node's listener also read back would reach its agent twice."""
        since = m.utcnow() - IN_PROGRESS
        with self.tracker.db.session() as session:
            rows = session.execute(select(m.Call.call_id, m.Call.agent_user_id).where(
                m.Call.answered_at.is_not(None), m.Call.ended_at.is_(None), m.Call.agent_user_id.is_not(None),
                m.Call.started_at > since))
            return {call_id: user_id for call_id, user_id in rows if user_id is not None
                    and (self.node == SINGLE_NODE or on_node(call_id, self.system_name))}

    # ── the cluster's Redis duties: the survey stream and the transcript relay ──
    def _start_duties(self) -> None:
        self._duties = [asyncio.create_task(self._survey_loop(), name="calls-surveys")]
        if self.transcripts is not None:
            self._duties.append(asyncio.create_task(self.transcripts.run(), name="calls-transcript"))
        self.has_duties = True

    async def _stop_duties(self) -> None:
        await self._cancel(self._duties)
        self._duties, self.has_duties = [], False

    async def _cancel(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Cancel ``tasks`` and wait for them, ``STOP_GRACE`` at most: a stop never hangs on a task that does not
        end (one was seen twice in the cluster e2e tests, which one unknown); such a task is named in the log."""
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, stuck = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in stuck:
            log.error("listener %s: task %s still running %.0f s after it was cancelled; left behind: %s",
                      self.node or "-", task.get_name(), STOP_GRACE, task.get_stack(limit=5))

    async def _duty_loop(self) -> None:
        """Take the lease when it is free, renew it while held; run the duties exactly while holding it."""
        try:
            while True:
                try:
                    held = await self._hold_lease()
                except (RedisError, OSError) as exc:   # Redis away: the duties (all Redis) cannot run anyway
                    log.warning("node %s: duty lease not renewed: %s", self.node, exc)
                    held = False
                if held and not self.has_duties:
                    log.info("node %s: this listener runs the survey stream and the transcript relay", self.node)
                    self._start_duties()
                elif not held and self.has_duties:
                    log.warning("node %s: duty lease lost; another listener runs the duties", self.node)
                    await self._stop_duties()
                await asyncio.sleep(self.duty_renew)
        finally:
            await self._stop_duties()

    async def _hold_lease(self) -> bool:
        """Take the lease if nobody holds it, or extend it if this listener does (compare and set under WATCH: the
        desk's Redis user runs no scripts). False when another listener holds it."""
        assert self.redis is not None
        ttl_ms = int(self.duty_ttl * 1000)
        if await self.redis.set(DUTY_KEY, self.duty_holder, nx=True, px=ttl_ms):
            return True
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(DUTY_KEY)
                holder = await pipe.get(DUTY_KEY)
                if (holder.decode() if isinstance(holder, bytes) else holder) != self.duty_holder:
                    return False
                pipe.multi()
                pipe.pexpire(DUTY_KEY, ttl_ms)
                await pipe.execute()
                return True
        except WatchError:   # it changed hands meanwhile (lapsed and taken): not ours
            return False

    async def _release_lease(self) -> None:
        """A listener stopped on purpose hands the duties on at once instead of after ``duty_ttl``."""
        if self.redis is None or self.node == SINGLE_NODE:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(DUTY_KEY)
                holder = await pipe.get(DUTY_KEY)
                if (holder.decode() if isinstance(holder, bytes) else holder) == self.duty_holder:
                    pipe.multi()
                    pipe.delete(DUTY_KEY)
                    await pipe.execute()
        except (WatchError, RedisError, OSError) as exc:
            log.info("node %s: duty lease not released (%s); it lapses by itself", self.node, exc)

    async def stop(self) -> None:
        await self._cancel([*self._tasks, *([self._rebuilding] if self._rebuilding else []), *self._spies_ending])
        await self._stop_duties()
        await self._release_lease()
        if self.ami is not None:
            self.ami.manager.on_disconnect = lambda *_: None   # a deliberate close is no outage
            self.ami.manager.close()

    async def drain(self) -> None:
        """Wait until every event received so far is applied (tests and benchmarks)."""
        while not self.queue.empty():
            await asyncio.sleep(0.01)
        await self.queue.join()

    async def _apply_loop(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self._apply_until_stored(event)
            finally:
                self.queue.task_done()

    async def _apply_until_stored(self, event: ev.CallEvent) -> None:
        """Apply one event, in arrival order. A database error (an outage, a lock, a deadlock) is retried with
        back-off until it passes – later events wait, so a call's end is never applied before its start and no
        call row is lost. Anything else (a fault with this one event) is tried ``BUG_ATTEMPTS`` times, then kept
        in ``failed`` and logged in full, so one bad event cannot stop the desk from seeing the next calls."""
        delay, attempt = self.retry_delay, 0
        while True:
            attempt += 1
            try:
                await self.tracker.apply(event)
                self.events_applied += 1
                return
            except (SQLAlchemyError, OSError) as exc:
                self.events_retried += 1
                log.warning("call event not stored (%s); retrying in %.1fs: %s", exc, delay, describe(event))
            except Exception:
                if attempt >= BUG_ATTEMPTS:
                    self.failed.append(event)
                    log.exception("call event not applied after %d attempts, kept in failed: %s", attempt,
                                  describe(event))
                    return
                log.exception("call event not applied; retrying: %s", describe(event))
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    # ── the recordings watch ─────────────────────────────────────────────────
    async def _watch_loop(self, watch: RecordingWatch) -> None:
        """Every ``watch.interval`` s: the recordings that stopped growing become ``RecordingInterrupted`` events
        (applied in order, retried like the AMI ones), and the volume's state goes to Redis for the wallboard."""
        if not watch.active:
            log.info("listener %s: recordings at %s are not readable here; they are not watched", self.node or "-",
                     watch.host or watch.written)
        while True:
            try:
                looked = await asyncio.to_thread(watch.look)
            except OSError as exc:
                log.warning("recordings not looked at: %s", exc)
                looked = None
            if looked is not None:
                now = dt.datetime.now(dt.UTC)
                for call_id in looked.interrupted:
                    self.queue.put_nowait(ev.RecordingInterrupted(call_id, now))
                if self.redis is not None:
                    try:
                        await self.redis.hset(recording_watch.STATE_KEY, self.node,
                                              recording_watch.encode(looked.storage))
                    except (RedisError, OSError) as exc:
                        log.warning("recordings storage state not written: %s", exc)
            await asyncio.sleep(watch.interval)

    # ── the wallboard ────────────────────────────────────────────────────────
    def _rebuild_board_soon(self) -> None:
        """One rebuild at a time: a login during a rebuild makes that rebuild run once more when it ends."""
        if self._rebuilding is not None and not self._rebuilding.done():
            self._rebuild_again = True
            return
        self._rebuilding = asyncio.get_running_loop().create_task(self._rebuild_board(), name="board-rebuild")

    async def _rebuild_board(self) -> None:
        """Until a rebuild succeeds (tried again every ``REBUILD_RETRY`` s while AMI stays up: the next login may be
        hours away), and once more after a login that came meanwhile."""
        again = True
        while again:
            self._rebuild_again = False
            while not await self._rebuild_board_once():
                await asyncio.sleep(REBUILD_RETRY)
            again = self._rebuild_again

    async def _rebuild_board_once(self) -> bool:
        """The live part from QueueStatus + CoreShowChannels, then every event that arrived meanwhile applied on top
        in order: each event is applied once (today's counters stay right), and one the snapshot already shows
        changes nothing again (a join sets, a leave removes)."""
        assert self.ami is not None and self.wallboard is not None   # a login of this listener with a board
        self._held = []
        try:
            status = await self.ami.action_list({"Action": "QueueStatus"}, errors=True)
            channels = await self.ami.action_list({"Action": "CoreShowChannels"}, errors=True)
        except (TimeoutError, AmiError, OSError) as exc:
            log.warning("wallboard not rebuilt (%s); trying again in %.0f s", exc, REBUILD_RETRY)
            return False
        else:
            self.wallboard.rebuild([*status, *channels])
        finally:
            held, self._held = self._held, None
            for event in held:
                self.wallboard.apply(event)
            self._board_changed.set()
        log.info("wallboard rebuilt from Asterisk: %d waiting (%d in QueueStatus, %d events applied after it)",
                 len(self.wallboard.waiting), sum(1 for e in status if e.name == "QueueEntry"), len(held))
        now = dt.datetime.now(dt.UTC)
        ids = {channel: await self._call_id_of(channel)
               for channel in {e.get("Channel") for e in status if e.name == "QueueEntry" and e.get("Channel")}}
        self.queue.put_nowait(ev.still_waiting(status, now, ids))   # in order with the live events
        return True

    async def _check_loop(self) -> None:
        """``check_board`` every ``CHECK_EVERY`` s."""
        while True:
            await asyncio.sleep(CHECK_EVERY)
            await self.check_board()

    async def check_board(self) -> bool:
        """The board's waiting callers against Asterisk's own list (QueueStatus). A difference still there
        ``CHECK_AGAIN`` s later (not a caller joining or leaving in between) is logged with the callers concerned
        and the board is rebuilt: an event lost or misread must not leave the board wrong until the next AMI login,
        and the log says what it was. True when it was corrected."""
        try:
            first = await self.board_difference()
            if not first:
                return False
            await asyncio.sleep(CHECK_AGAIN)
            lasting = first & await self.board_difference()
        except (TimeoutError, AmiError, OSError) as exc:
            log.info("wallboard not checked against Asterisk (%s)", exc)
            return False
        if not lasting:
            return False
        self.board_corrections += 1
        log.warning("%s: %s", BOARD_CORRECTED, "; ".join(f"{uid} {what}" for uid, what in sorted(lasting)[:20]))
        self._rebuild_board_soon()
        return True

    async def board_difference(self) -> set[tuple[str, str]]:
        """(caller's Uniqueid, how it differs) for each caller waiting in Asterisk's queues but not on the board
        ("missing"), on the board but not waiting ("not waiting"), or in another queue ("in <queue>, board
        <queue>"); empty while AMI is down or the board is being rebuilt (nothing to compare)."""
        assert self.wallboard is not None   # checked only with a board
        rebuilding = self._rebuilding is not None and not self._rebuilding.done()
        if self.ami is None or not self.ami.manager.authenticated or rebuilding:
            return set()
        status = await self.ami.action_list({"Action": "QueueStatus"}, errors=True)
        asterisk = {e.get("Uniqueid"): e.get("Queue") for e in status if e.name == "QueueEntry"}
        board = {uid: w.queue for uid, w in self.wallboard.waiting.items()}
        return ({(uid, "missing") for uid in asterisk.keys() - board.keys()}
                | {(uid, "not waiting") for uid in board.keys() - asterisk.keys()}
                | {(uid, f"in {asterisk[uid]}, board {board[uid]}") for uid in asterisk.keys() & board.keys()
                   if asterisk[uid] != board[uid]})

    async def _call_id_of(self, channel: str) -> str:
        """The call id the dialplan tagged a waiting channel with ("" when it is gone or untagged): QueueStatus gives
        the channel's own Uniqueid, which is not the call's when the call came in on a Local channel."""
        assert self.ami is not None
        try:
            reply = await self.ami.action({"Action": "Getvar", "Channel": channel, "Variable": v.CALL_ID})
        except (TimeoutError, AmiError, OSError):
            return ""
        value = reply.get("Value", "")
        return "" if value in ("(null)", "None") else value

    async def _board_loop(self) -> None:
        """Publish the snapshot: soon after a change (bursts coalesced), and every second regardless."""
        loop = asyncio.get_running_loop()
        last = 0.0
        while True:
            try:
                await asyncio.wait_for(self._board_changed.wait(), timeout=1.0)
                pause = self.board_interval - (loop.time() - last)
                if pause > 0:
                    await asyncio.sleep(pause)
            except TimeoutError:
                pass
            self._board_changed.clear()
            last = loop.time()
            await self.publish_board()

    async def publish_board(self) -> None:
        assert self.wallboard is not None and self.redis is not None   # the board loop runs only with both
        if self.node != SINGLE_NODE:
            await self._publish_cluster_board()
            return
        message = json.dumps(self.wallboard.snapshot(), ensure_ascii=False, separators=(",", ":"))
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(SNAPSHOT_KEY, message)
                pipe.publish(BOARD_CHANNEL, message)
                await pipe.execute()
            self.boards_published += 1
        except (RedisError, OSError) as exc:
            log.warning("wallboard snapshot not published: %s", exc)

    async def _publish_cluster_board(self) -> None:
        """This node's part, then the cluster's board merged from every node's latest part (see the module)."""
        assert self.wallboard is not None and self.redis is not None
        part = json.dumps(self.wallboard.snapshot(sums=True), ensure_ascii=False, separators=(",", ":"))
        keys = [cluster_board.node_key(n) for n in self.cluster_nodes]
        try:
            await self.redis.set(cluster_board.node_key(self.node), part, ex=NODE_PART_TTL)
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(*keys)
                raws = await pipe.mget(keys)
                parts = {n: json.loads(raw) if raw else None for n, raw in zip(self.cluster_nodes, raws)}
                board = cluster_board.merge(parts, time.time(), self.wallboard.service_level_seconds)
                message = json.dumps(board, ensure_ascii=False, separators=(",", ":"))
                pipe.multi()
                pipe.set(SNAPSHOT_KEY, message)
                pipe.publish(BOARD_CHANNEL, message)
                await pipe.execute()
            self.boards_published += 1
        except WatchError:
            self.merges_superseded += 1   # another node's part changed: its listener's merge, next, has both
        except (RedisError, OSError) as exc:
            log.warning("node %s: wallboard part or cluster board not published: %s", self.node, exc)
        except (ValueError, KeyError, TypeError) as exc:   # a part written by another version of the listener
            log.error("node %s: cluster board not merged (a node's part is unreadable): %s", self.node, exc)

    async def _prefill_loop(self) -> None:
        redis = self.redis
        assert redis is not None   # started only with Redis
        while True:
            try:
                pubsub = redis.pubsub()
                await pubsub.subscribe(PREFILL_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        prefill = Prefill.decode(message["data"])
                    except ContractMismatch as exc:
                        log.error("prefill update not shown: %s", exc)
                        continue
                    await self.tracker.prefill_changed(prefill)
            except (RedisError, OSError) as exc:
                log.warning("prefill channel lost (%s); retrying", exc)
                await asyncio.sleep(1)

    async def _survey_loop(self) -> None:
        """满意度评价 results from the IVR's stream, each stored exactly once (``agent_desk.streams``)."""
        assert self.redis is not None   # started only with Redis
        await streams.consume(self.redis, SURVEYS, "listener", survey.SurveyEntry.from_fields, self._store_survey,
                              self.retry_delay)

    async def _store_survey(self, entry: survey.SurveyEntry) -> None:
        await asyncio.to_thread(self.tracker.record_survey, entry.call_id, entry.result, entry.digits, entry.at_time)
