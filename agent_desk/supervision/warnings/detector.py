"""The detector: session hooks note new tickets, one background thread re-evaluates their areas, and the full scan
(on start and on request) evaluates everything. A ticket's commit never waits for detection nor fails because of it."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from typing import Any, Literal

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from agent_desk.db import models as m
from agent_desk.supervision.org import OrgIndex
from agent_desk.supervision.warnings.clustering import CONTENT_CHARS, Record, detect, prepare
from agent_desk.supervision.warnings.rules import WarningRule, rules_from
from agent_desk.supervision.warnings.store import Scope, WarningStore
from suggest.similarity import TextSpace

log = logging.getLogger(__name__)


# ── the detector: session hooks, one background thread, the full scan ──────────
NEW_TICKETS = "hotline_new_tickets"
# The space is fitted again after REFIT_AFTER new tickets, or sooner on a small desk (a tenth of what it was
# fitted on: a desk's first tickets refit it every time, cheaply). Between fits, n-grams the space has not seen
# weigh nothing; at province volume nearly every Chinese 2-gram has been seen, only new names wait.
REFIT_AFTER = 500
REFIT_SHARE = 0.1
READY_TICKETS = "hotline_new_tickets_ready"


# A job for the background thread: the tickets a commit created, or a full scan (None: stop).
Job = tuple[Literal["tickets"], frozenset[int]] | tuple[Literal["scan"], None]


@dataclass
class ScanResult:
    alerts: list[dict[str, Any]]
    tickets: int
    stored: bool
    elapsed_ms: float = 0.0
    changed: list[dict[str, Any]] = field(default_factory=list)


class EarlyWarning:
    def __init__(self, sessions: sessionmaker[Session], client: Redis,
                 rules: Iterable[dict[str, Any] | WarningRule] | None = None,
                 clock: Callable[[], dt.datetime] | None = None):
        self.sessions = sessions
        self.store = WarningStore(client)
        self.rules = rules_from(rules)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._org: OrgIndex | None = None
        # the representation every evaluation compares in: fitted on the tickets of the longest window by every
        # full scan, and again after REFIT_AFTER new tickets (so new words weigh; scan and per-ticket evaluation
        # compare in the same space)
        self.space: TextSpace | None = None
        self._since_fit = self._fitted_on = 0
        self._lock = threading.Lock()           # one evaluation at a time (thread and API scan)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition()

    # hooks: note the tickets a commit creates, evaluate them after it (never inside it)
    def install(self, factory: sessionmaker[Session]) -> None:
        event.listen(factory, "after_flush", self._after_flush)
        event.listen(factory, "after_commit", self._after_commit)
        event.listen(factory, "after_rollback", lambda session: session.info.pop(NEW_TICKETS, None))

    def _after_flush(self, session: Session, _context: UOWTransaction) -> None:
        try:
            new = [obj.id for obj in session.new if isinstance(obj, m.Ticket) and obj.location_unit_id is not None]
            if new:
                session.info.setdefault(NEW_TICKETS, set()).update(new)
        except Exception:  # never fail a ticket save because of early warning
            log.exception("early warning: new tickets not noted")

    def _after_commit(self, session: Session) -> None:
        ids = session.info.pop(NEW_TICKETS, None)
        if ids:
            self._submit(("tickets", frozenset(ids)))

    def start(self) -> None:
        """Scan everything once, in the background (the desk calls it on start)."""
        self._submit(("scan", None))

    def stop(self, timeout: float = 10) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def wait_idle(self, timeout: float = 10) -> bool:
        """True once everything submitted so far has been evaluated (tests, benchmarks)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _submit(self, job: Job) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(job)
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="early-warning", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            while True:  # coalesce whatever queued up meanwhile into one evaluation
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                jobs.append(more)
            try:
                if any(kind == "scan" for kind, _ in jobs):
                    self.scan()
                else:
                    self.evaluate_tickets(set[int]().union(*(ids for _, ids in jobs if ids is not None)))
            except Exception:
                log.exception("early warning: evaluation failed")
            finally:
                with self._idle:
                    self._pending -= len(jobs)
                    self._idle.notify_all()

    # evaluation
    def _org_for(self, session: Session, unit_ids: Iterable[int | None]) -> OrgIndex:
        if self._org is None or any(u is not None and u not in self._org.nodes for u in unit_ids):
            self._org = OrgIndex.load(session)
        return self._org

    def _records(self, session: Session, since: dt.datetime, until: dt.datetime,
                 units: list[int] | None = None) -> list[Record]:
        stmt = (select(m.Ticket.number, m.Ticket.location_unit_id, m.Ticket.created_at, m.Ticket.title,
                       func.substr(m.Ticket.content, 1, CONTENT_CHARS), m.Ticket.topic, m.Ticket.matter_key)
                .where(m.Ticket.created_at >= since, m.Ticket.created_at <= until))
        stmt = stmt.where(m.Ticket.location_unit_id.in_(units)) if units is not None else \
            stmt.where(m.Ticket.location_unit_id.is_not(None))
        return [Record(*row) for row in session.execute(stmt)]

    def evaluate_tickets(self, ids: set[int]) -> ScanResult:
        """Re-evaluate the areas (per rule) of these tickets."""
        began = time.perf_counter()
        now = self.clock()
        with self._lock, self.sessions() as session:
            rows = session.execute(select(m.Ticket.location_unit_id).where(m.Ticket.id.in_(ids))).scalars().all()
            org = self._org_for(session, rows)
            self._since_fit += len(ids)
            if self.space is None or self._since_fit >= min(REFIT_AFTER, REFIT_SHARE * self._fitted_on):
                window = self._records(session, now - self._longest, now)
                self._refit(prepare(window, org).space, len(window))
            space = self.space
            found, scopes, count = [], set(), 0
            for rule in self.rules:
                areas = {a.id for a in (org.area_of(u, rule.area) for u in rows) if a is not None}
                for area in areas:
                    scopes.add((rule.name, org.nodes[area].code))
                    records = self._records(session, now - rule.window, now, sorted(org.subtree(area)))
                    count += len(records)
                    found.extend(detect(records, org, rule, now, {area}, space))
            session.rollback()
        return self._store(found, lambda a: (a["rule"], a["area"]) in scopes, now, count, began)

    def scan(self) -> ScanResult:
        """Every rule over every area: what is active now, and expire what no longer is."""
        began = time.perf_counter()
        now = self.clock()
        with self._lock, self.sessions() as session:
            records = self._records(session, now - self._longest, now)
            self._org = org = OrgIndex.load(session)
            prepared = prepare(records, org)   # each text read once, for every rule
            self._refit(prepared.space, len(records))
            found = [alert for rule in self.rules for alert in detect(records, org, rule, now, prepared=prepared)]
            session.rollback()
        # expires what this database's areas no longer show (another desk database may share the Redis)
        codes = {p.code for p in org.nodes.values()}
        return self._store(found, lambda a: a.get("area") in codes, now, len(records), began)

    @property
    def _longest(self) -> dt.timedelta:
        return max((r.window for r in self.rules), default=dt.timedelta())

    def _refit(self, space: TextSpace, fitted_on: int) -> None:
        self.space = space
        self._since_fit, self._fitted_on = 0, fitted_on

    def _store(self, found: list[dict[str, Any]], scope: Scope, now: dt.datetime, tickets: int,
               began: float) -> ScanResult:
        try:
            changed = self.store.reconcile(found, scope, now)
            stored = True
        except RedisError as exc:
            changed, stored = [], False
            for alert in found:
                log.warning("early warning not published (Redis: %s): %s [%s]", exc, alert["title"],
                            ",".join(alert["tickets"]))
        for alert in changed:
            log.info("early warning: %s [%s]", alert["title"], ",".join(alert["tickets"]))
        return ScanResult(found, tickets, stored, (time.perf_counter() - began) * 1000, changed)
