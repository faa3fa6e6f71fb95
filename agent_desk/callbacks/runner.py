"""The campaign runner in the desk process (asyncio, like the 回拨 dialer): it paces the running campaigns, follows
their calls on AMI and takes the IVR's results from the Redis stream.

Each ``tick`` (every ``interval`` seconds, and at once when a call ends): stale ``unknown`` items are released,
finished campaigns closed, and for every running campaign inside its window the due items are claimed (committed)
and originated, as many as the campaign's ``max_channels`` and the trunk's limit leave free. The first tick with
AMI, and every FullyBooted, reconciles the open calls with Asterisk's channels (see ``campaign``). Events go through
``revisit.on_event`` and results through ``revisit.apply_result``, each in its own unit of work; a result is
acknowledged on the stream only once stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from agent_desk import streams
from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import revisit
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.db import models as m
from agent_desk.db.session import Database
from hotline.ami import AmiClient, AmiError, AmiEvent
from hotline.contracts import revisit as rc

log = logging.getLogger(__name__)
RESULTS = streams.ResultStream(rc.STREAM, rc.DESK_GROUP, rc.REJECTED_STREAM, rc.STREAM_MAXLEN, "回访 result")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CampaignRunner:
    def __init__(self, db: Database, policy: CallbackPolicy, ami: Callable[[], AmiClient | None],
                 redis: Redis | None, clock: Callable[[], dt.datetime] = utc_now, interval: float = 2.0):
        self.db, self.policy, self.ami_of, self.redis, self.clock = db, policy, ami, redis, clock
        self.interval = interval
        self.following: dict[str, float] = {}   # calls this runner originated and has not seen end → when (epoch s)
        self.started = 0                   # calls originated (for the benchmark)
        self.results = 0                   # IVR results stored
        self._events: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed: AmiClient | None = None
        self._first = True

    # ── life ─────────────────────────────────────────────────────────────────
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pace(), name="revisit-pace"),
                       loop.create_task(self._follow(), name="revisit-events")]
        if self.redis is not None:
            self._tasks.append(loop.create_task(self._results(), name="revisit-results"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._subscribed is not None:
            self._subscribed.unsubscribe(self._on_ami)

    def _on_ami(self, event: AmiEvent) -> None:
        if revisit.event_out_id(event) is not None or event.name == "FullyBooted":
            self._events.put_nowait(event)

    def _ensure_subscribed(self) -> AmiClient | None:
        ami = self.ami_of()
        if ami is not self._subscribed:
            if self._subscribed is not None:
                self._subscribed.unsubscribe(self._on_ami)
            if ami is not None:
                ami.subscribe(self._on_ami)
            self._subscribed = ami
        return ami

    # ── pacing ───────────────────────────────────────────────────────────────
    async def _pace(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("回访 campaign tick failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def tick(self) -> int:
        """One round; returns how many calls it originated."""
        ami = self._ensure_subscribed()
        if ami is not None and self._first:
            await self.reconcile(ami)
        placed = await asyncio.to_thread(self._claim_due, ami is not None)
        for out_id, action in placed:
            assert ami is not None
            self.following[out_id] = time.time()
            try:
                await ami.action(action)
                self.started += 1
            except (AmiError, TimeoutError, OSError) as exc:
                log.warning("回访 %s not originated: %s", out_id, exc)
                self.following.pop(out_id, None)
                await self._store(revisit.originate_failed, out_id)
        return len(placed)

    def _claim_due(self, can_call: bool) -> list[tuple[str, dict[str, Any]]]:
        now, placed = self.clock(), []
        with self.db.session() as session:
            cp.release_stale(session, now, self.policy)
            cp.finish_campaigns(session, now)
            if not can_call:
                return []
            running = session.scalars(select(m.RevisitCampaign).where(m.RevisitCampaign.state == cp.RUNNING)
                                      .order_by(m.RevisitCampaign.id)).all()
            for campaign in running:
                if not cp.in_window(now, campaign.window_start, campaign.window_end, self.policy):
                    continue
                free = cp.free_channels(campaign.max_channels, cp.calling_count(session, campaign.id),
                                        self.policy.outbound_channels, cp.calling_count(session))
                for item in cp.due_items(session, campaign.id, now, free):
                    if cp.opted_out(session, item.caller):   # marked by an agent after the campaign was made
                        item.state, item.outcome, item.updated_at = cp.DONE, "opted_out", now
                        continue
                    out_id = revisit.new_out_id()
                    if cp.claim(session, item, out_id, now):
                        placed.append((out_id, revisit.call_for(session, item, out_id, self.policy)))
        return placed   # committed: every claim is stored before its call is originated

    async def reconcile(self, ami: AmiClient) -> None:
        """What Asterisk has now against the calls the database says are open (the runner started, or Asterisk
        came back): a call whose channels are up is followed from here; one that is gone is ended, its channel
        free, and its item, if still calling, ``unknown`` (not dialled again before the stale window)."""
        try:
            up = {e.get("Uniqueid") for e in await ami.action_list({"Action": "CoreShowChannels"})}
        except (AmiError, TimeoutError, OSError) as exc:
            log.warning("回访: live channels not listed (%s); trying again", exc)
            return
        open_calls = await asyncio.to_thread(self._open_calls)
        for out_id in open_calls:
            if out_id in up or f"{out_id}-o" in up:
                self.following.setdefault(out_id, time.time())
            else:
                self.following.pop(out_id, None)
                await self._store(revisit.cut_by_restart, out_id)
        self._first = False
        self._wake.set()

    def _open_calls(self) -> list[str]:
        with self.db.session() as session:
            return list(session.scalars(select(m.RevisitCall.out_id).where(m.RevisitCall.ended_at.is_(None))))

    # ── AMI events ───────────────────────────────────────────────────────────
    async def _follow(self) -> None:
        while True:
            event = await self._events.get()
            if event.name == "FullyBooted":
                await self._booted(event)
                continue
            try:
                ended = await self._store(revisit.on_event, event)
            except Exception:
                log.exception("回访 event %s not applied", event.name)
                continue
            if ended is not None:
                self.following.pop(ended, None)
                self._wake.set()

    async def _booted(self, event: AmiEvent) -> None:
        """Asterisk sends FullyBooted after every AMI login (it restarted, or the connection came back): the open
        calls are checked against its channels (``reconcile``)."""
        ami = self._ensure_subscribed()
        if ami is not None:
            await self.reconcile(ami)

    async def _store(self, step: Callable[..., Any], *args: Any) -> Any:
        """``step(session, *args, policy, now)`` in its own unit of work, off the event loop."""
        def run() -> Any:
            with self.db.session() as session:
                return step(session, *args, self.policy, self.clock())
        return await asyncio.to_thread(run)

    # ── IVR results ──────────────────────────────────────────────────────────
    async def _results(self) -> None:
        assert self.redis is not None
        await streams.consume(self.redis, RESULTS, "desk", rc.RevisitEntry.from_fields, self._take)

    async def _take(self, entry: rc.RevisitEntry) -> None:
        await self._store(revisit.apply_result, entry)
        self.results += 1
        self._wake.set()
