"""Early warning (未诉先办): clusters of similar appeals in one place and time window raise an alert.

Rules are data (``WarningRule``; ``DeskSettings.warning_rules``, overridable from the site file's
``warning_rules:``): a window (e.g. 24 h), a minimum count (e.g. 5), the area tickets are grouped by (the
town, or the county/district, their location unit lies in) and what makes two appeals similar: the same
topic, the same matter key, or text similarity of title + content (Jaccard of their Chinese bigrams, cut by
``knowledge.terms``, at least ``similarity``). Similar tickets are joined by single-link clustering inside
the window; a cluster of at least ``min_count`` is an alert, which says why: the keywords most of its tickets
share (共同关键词, e.g. 自来水 发黄) or their topic. Alerts carry ticket numbers, never personal data.

Detection runs in one background thread, so a ticket's commit never waits for it and never fails because of
it: the session hooks (``install``) note the tickets a commit created, the thread re-evaluates their areas.
``scan`` evaluates everything (on start, and ``POST /api/warnings/scan``).

Redis: active alerts in the hash ``hotline:warnings:active`` (id → JSON); acknowledged ones in
``hotline:warnings:acked`` until their cluster grows past the acknowledged count (then it is raised again)
or leaves the window. Every new or changed alert is published on ``hotline:wallboard`` as
``{"type": "alert", ...alert}``; an alert that leaves (acknowledged, or its cluster left the window) as
``{"type": "alert_cleared", "id": ..., "reason": "acknowledged" | "expired"}``. An alert's id is stable: the
same cluster (sharing a ticket with a known alert of the same rule and area) keeps its id, so it updates
rather than duplicates. Redis down: detection still runs, the alert is logged, the next scan publishes it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import math
import queue
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict, Field
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from agent_desk.db import models as m
from agent_desk.knowledge import terms
from hotline.reference import topic_names  # noqa: F401  (re-exported: reports and views read it here)

log = logging.getLogger(__name__)

ACTIVE = "hotline:warnings:active"
ACKED = "hotline:warnings:acked"
CHANNEL = "hotline:wallboard"
CONTENT_CHARS = 400          # of a ticket's content compared (the matter is stated first; keeps scans cheap)
KEYWORD_SHARE = 0.5          # a keyword is shared by at least this share of the cluster's tickets
MAX_KEYWORDS = 3
# How hotline tickets are worded, not what they are about: never a reason to join two appeals.
FILLER = frozenset({
    "市民", "来电", "反映", "反应", "称", "表示", "要求", "希望", "诉求", "相关", "部门", "处理", "尽快", "解决",
    "问题", "情况", "目前", "现在", "已经", "一直", "没有", "我们", "他们", "自己", "这个", "那个", "一个",
    "附近", "出现", "存在", "导致", "造成", "进行", "协调", "核实", "请求", "帮忙", "帮助", "投诉", "举报",
    "咨询", "建议", "请问", "了解", "是否", "怎么", "如何", "什么", "可以", "不能", "不是", "非常", "严重",
    "影响", "生活", "居民", "群众", "今天", "昨天", "最近", "近期", "几天", "这两", "两天", "时间", "每天",
})
COMMON_SHARE = 0.05          # a bigram in this share of all recent tickets is how the center writes, not a matter
COMMON_MIN_TICKETS = 1000    # ... measured only over at least this many tickets
_LABEL_PREFIX = re.compile(r"^\s*【[^】]*】")  # the desk's own "【供水排水】…" title prefix: the topic, not words


class WarningRule(BaseModel):
    """One early-warning rule. ``area``: ``town`` groups by the town (乡镇/街道) the location unit lies in,
    ``county`` by its district or county-level city (区县)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    label: str = Field(..., min_length=1, max_length=32, description="中文, shown with the alert")
    area: Literal["town", "county"] = "town"
    window_hours: int = Field(24, ge=1, le=24 * 90)
    min_count: int = Field(5, ge=2, le=10_000)
    similarity: float = Field(0.15, gt=0, le=1, description="Jaccard of the bigram sets of title + content")
    link_topic: bool = Field(False, description="the same topic makes two appeals similar (fine-grained topics)")
    link_matter: bool = Field(True, description="the same matter key (citizen, topic, place) does")

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.window_hours)

    @property
    def window_label(self) -> str:
        hours = self.window_hours
        return f"{hours // 24}天" if hours >= 48 and hours % 24 == 0 else f"{hours}小时"


# Defaults link appeals by their words and matter, not by topic alone: the desk's topics are level-1 classes
# (供水排水, 住房物业), and a busy town has five 住房物业 tickets on an ordinary day (bench/warnings.py). A site
# with fine-grained topics (自来水水质) can set link_topic. Similarity 0.15: on real citizen messages (TipDM
# 2020), unrelated pairs stay below 0.1, while six wordings of "自来水发黄" link at 0.12-0.29 (single link).
DEFAULT_RULES: tuple[WarningRule, ...] = (
    WarningRule(name="town-24h", label="乡镇聚集", area="town", window_hours=24, min_count=5),
    WarningRule(name="county-24h", label="区县聚集", area="county", window_hours=24, min_count=10),
    # A point that keeps coming back (积水点, 停水片区).
    WarningRule(name="town-7d", label="反复诉求", area="town", window_hours=168, min_count=8, similarity=0.2),
)


def rules_from(data: Iterable[dict[str, Any] | WarningRule] | None) -> tuple[WarningRule, ...]:
    """Rules from settings or a site file (dicts are validated); None: the defaults."""
    if data is None:
        return DEFAULT_RULES
    rules = tuple(r if isinstance(r, WarningRule) else WarningRule.model_validate(r) for r in data)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"warning rule names repeat: {names}")
    return rules


def site_rules(data: list[dict[str, Any]] | None) -> tuple[WarningRule, ...] | None:
    """The site file's ``warning_rules:`` checked (ConfigError naming each problem); None: the defaults."""
    if data is None:
        return None
    from pydantic import ValidationError

    from hotline.yamlsource import ConfigError
    problems = []
    for i, item in enumerate(data):
        try:
            WarningRule.model_validate(item)
        except ValidationError as exc:
            problems += [f"site: warning_rules[{i}].{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    if not problems:
        try:
            return rules_from(data)
        except ValueError as exc:
            problems.append(f"site: warning_rules: {exc}")
    raise ConfigError(problems)


# ── places ──────────────────────────────────────────────────────────────────────
AREA_KINDS = {"town": ("town",), "county": ("district", "subplatform")}
SUBPLATFORM_SUFFIX = "12345热线分平台"


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None


class Org:
    """The organisation tree, to put a ticket's location unit (village, grid, town…) into its area."""

    def __init__(self, places: Iterable[Place]):
        self.places = {p.id: p for p in places}
        self.children: dict[int, list[int]] = {}
        for p in self.places.values():
            if p.parent_id is not None:
                self.children.setdefault(p.parent_id, []).append(p.id)

    @classmethod
    def load(cls, session: Session) -> Org:
        rows = session.execute(select(m.OrgUnit.id, m.OrgUnit.code, m.OrgUnit.name, m.OrgUnit.kind,
                                      m.OrgUnit.parent_id)).all()
        return cls(Place(*row) for row in rows)

    def area_of(self, unit_id: int | None, level: str) -> Place | None:
        kinds, seen = AREA_KINDS[level], 0
        place = self.places.get(unit_id) if unit_id is not None else None
        while place is not None and seen < 16:
            if place.kind in kinds:
                return place
            place, seen = self.places.get(place.parent_id) if place.parent_id is not None else None, seen + 1
        return None

    def members(self, area_id: int) -> list[int]:
        out, todo = [], [area_id]
        while todo:
            unit = todo.pop()
            out.append(unit)
            todo.extend(self.children.get(unit, ()))
        return out

    def display_name(self, place: Place) -> str:
        return place.name.removesuffix(SUBPLATFORM_SUFFIX) if place.kind == "subplatform" else place.name

    def names_around(self, place: Place) -> list[str]:
        """The area's name and its ancestors' (嘉积镇, 琼海市): shared by every ticket there, never a keyword."""
        names: list[str] = []
        current: Place | None = place
        while current is not None and len(names) < 8:
            names.append(self.display_name(current))
            current = self.places.get(current.parent_id) if current.parent_id is not None else None
        return names


# ── clustering (pure) ───────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Record:
    """What detection reads of a ticket: no personal data."""

    number: str
    unit_id: int | None          # location unit
    created_at: dt.datetime
    title: str
    content: str = ""
    topic: str = ""
    matter_key: str = ""

    @property
    def text(self) -> str:
        return _LABEL_PREFIX.sub("", self.title) + "\n" + self.content[:CONTENT_CHARS]


def bigrams(text: str, drop: frozenset[str] = frozenset()) -> frozenset[str]:
    """The Chinese bigrams of ``text`` (as the knowledge index cuts it), without filler and ``drop``."""
    return frozenset(t for t in terms.document_terms(text).split()
                     if len(t) == 2 and not t.isascii() and t not in FILLER and t not in drop)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def clusters(records: list[Record], sets: list[frozenset[str]], rule: WarningRule) -> list[list[int]]:
    """Single-link clusters (indexes into ``records``) of at least ``rule.min_count``."""
    n = len(records)
    if n < rule.min_count:
        return []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    for enabled, key in ((rule.link_topic, "topic"), (rule.link_matter, "matter_key")):
        if enabled:
            first: dict[str, int] = {}
            for i, r in enumerate(records):
                value = getattr(r, key)
                if value:
                    union(first.setdefault(value, i), i)
    t = rule.similarity
    sizes = [len(s) for s in sets]
    for i in range(n):
        if not sizes[i]:
            continue
        for j in range(i + 1, n):
            # |a∩b|/|a∪b| ≥ t needs min/max size ≥ t: most pairs end here without a set operation
            if not sizes[j] or min(sizes[i], sizes[j]) < t * max(sizes[i], sizes[j]) or find(i) == find(j):
                continue
            if _jaccard(sets[i], sets[j]) >= t:
                union(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) >= rule.min_count]


def keywords(texts: list[str], sets: list[frozenset[str]], limit: int = MAX_KEYWORDS) -> list[str]:
    """The words most of the cluster's tickets share (自来水, 发黄), in the order people say them: bigrams
    held by ≥ half the tickets, chained into the longest runs the texts contain, most widely shared first."""
    need = max(2, math.ceil(len(texts) * KEYWORD_SHARE))
    df = Counter(b for s in sets for b in s)
    frequent = {b for b, c in df.items() if c >= need}
    if not frequent:
        return []
    folded = ["".join(terms.runs(text)) for text in texts]
    candidates: set[str] = set()
    for text in texts:
        for run in terms.runs(text):
            start = None
            for i in range(len(run) - 1):
                if run[i:i + 2] in frequent:
                    start = i if start is None else start
                    continue
                if start is not None:
                    candidates.add(run[start:i + 1])
                    start = None
            if start is not None:
                candidates.add(run[start:])
    held = {c: sum(c in f for f in folded) for c in candidates}
    chosen: list[str] = []
    for word in sorted(held, key=lambda c: (-held[c], -len(c), c)):
        if held[word] >= need and not any(word in c or c in word for c in chosen):
            chosen.append(word)
        if len(chosen) == limit:
            break

    def position(word: str) -> float:
        spots = [f.find(word) for f in folded if word in f]
        return sum(spots) / len(spots)

    def order(a: str, b: str) -> int:  # as a shared phrase holding both says them (自来水发黄), else on average
        for phrase in sorted(candidates, key=lambda c: -held[c]):
            if a in phrase and b in phrase:
                return phrase.find(a) - phrase.find(b)
        return (position(a) > position(b)) - (position(a) < position(b))

    return sorted(chosen, key=functools.cmp_to_key(order))




def alert_id(rule: WarningRule, area_code: str, first_number: str) -> str:
    return "w" + hashlib.sha1(f"{rule.name}|{area_code}|{first_number}".encode()).hexdigest()[:15]


def _local(at: dt.datetime) -> str:
    from agent_desk.settings import PROVINCE_TZ
    return at.astimezone(PROVINCE_TZ).isoformat(timespec="seconds")


def _place_names(names: list[str]) -> re.Pattern[str]:
    """The area's names and their short forms (琼海市 → 琼海), longest first."""
    forms = set(names) | {n[:-1] for n in names if len(n) > 2 and n[-1] in "省市县区镇乡"}
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def common_bigrams(records: list[Record]) -> frozenset[str]:
    """Bigrams in at least ``COMMON_SHARE`` of the tickets: the center's boilerplate (来电人反映, 一带, 此前),
    common words (小区) – never what makes a cluster. Empty below ``COMMON_MIN_TICKETS`` tickets."""
    if len(records) < COMMON_MIN_TICKETS:
        return frozenset()
    df = Counter(b for r in records for b in bigrams(r.text))
    return frozenset(b for b, c in df.items() if c >= COMMON_SHARE * len(records))


def detect(records: list[Record], org: Org, rule: WarningRule, now: dt.datetime,
           areas: set[int] | None = None, common: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The alerts of ``rule`` at ``now`` over ``records`` (only in ``areas`` if given), ``common`` bigrams
    left out. Pure: no I/O."""
    start = now - rule.window
    by_area: dict[int, list[Record]] = {}
    for r in records:
        if start <= r.created_at <= now:
            area = org.area_of(r.unit_id, rule.area)
            if area is not None and (areas is None or area.id in areas):
                by_area.setdefault(area.id, []).append(r)
    topic_label = topic_names()
    alerts = []
    for area_id, group in by_area.items():
        if len(group) < rule.min_count:
            continue
        area = org.places[area_id]
        # the area's own names and its places' (towns of a county) say where, not what: cut out, not words
        names = _place_names(org.names_around(area) + [org.places[u].name for u in org.members(area_id)])
        texts = [names.sub(" ", r.text) for r in sorted(group, key=lambda r: (r.created_at, r.number))]
        group.sort(key=lambda r: (r.created_at, r.number))
        sets = [bigrams(text, common) for text in texts]
        for members in clusters(group, sets, rule):
            rows = [group[i] for i in members]
            words = keywords([texts[i] for i in members], [sets[i] for i in members])
            if not words and not rule.link_topic:
                continue  # a loose chain with no words most of it shares: nothing to say why, no alert
            topic = (Counter(r.topic for r in rows if r.topic).most_common(1) or [("", 0)])[0][0]
            topic_name = topic_label.get(topic, topic)
            subject = "、".join(words[:2]) or topic_name or "同类"
            area_name = org.display_name(area)
            numbers = sorted(r.number for r in rows)
            alerts.append({
                "id": alert_id(rule, area.code, numbers[0]), "rule": rule.name, "rule_label": rule.label,
                "title": f"{area_name} {rule.window_label}内 {len(rows)} 件“{subject}”相关诉求",
                "area": area.code, "area_name": area_name, "topic": topic, "topic_name": topic_name,
                "keywords": words, "count": len(rows), "window_hours": rule.window_hours,
                "first_at": _local(min(r.created_at for r in rows)),
                "last_at": _local(max(r.created_at for r in rows)),
                "tickets": numbers, "raised_at": None, "acknowledged_by": None, "acknowledged_at": None,
            })
    return alerts


# ── Redis: active alerts, acknowledgements, the wallboard channel ──────────────
Scope = Callable[[dict[str, Any]], bool]   # which stored alerts an evaluation covered (may expire)


class WarningStore:
    def __init__(self, client: Redis):
        self.client = client

    def active(self) -> list[dict[str, Any]]:
        alerts = [json.loads(v) for v in self.client.hgetall(ACTIVE).values()]
        return sorted(alerts, key=lambda a: (a["last_at"], a["id"]), reverse=True)

    def _hash(self, key: str) -> dict[str, dict[str, Any]]:
        """A hash of alerts, id → alert. The client decodes responses (``DeskSettings.sync_redis``), so ids are
        str; redis-py's typing cannot know that (it says bytes | str)."""
        return {cast(str, k): json.loads(v) for k, v in self.client.hgetall(key).items()}

    def reconcile(self, found: list[dict[str, Any]], scope: Scope, now: dt.datetime) -> list[dict[str, Any]]:
        """Store what an evaluation found, publish what changed, expire what it no longer finds.
        Returns the alerts raised or updated."""
        active, acked = self._hash(ACTIVE), self._hash(ACKED)
        _keep_ids(found, {**acked, **active})
        changed, pipe, messages = [], self.client.pipeline(transaction=False), []
        for alert in found:
            done = acked.get(alert["id"])
            if done is not None:
                if alert["count"] <= done["count"]:
                    continue  # acknowledged, and not grown since
                pipe.hdel(ACKED, alert["id"])  # grown past what was acknowledged: raised again
            before = active.get(alert["id"])
            alert["raised_at"] = before["raised_at"] if before else _local(now)
            if before and before["tickets"] == alert["tickets"]:
                continue
            pipe.hset(ACTIVE, alert["id"], json.dumps(alert, ensure_ascii=False))
            messages.append({"type": "alert", **alert})
            changed.append(alert)
        seen = {a["id"] for a in found}
        for key, alert in active.items():
            if key not in seen and scope(alert):
                pipe.hdel(ACTIVE, key)
                messages.append({"type": "alert_cleared", "id": key, "reason": "expired"})
        for key, alert in acked.items():
            if key not in seen and scope(alert):
                pipe.hdel(ACKED, key)
        for message in messages:
            pipe.publish(CHANNEL, json.dumps(message, ensure_ascii=False))
        pipe.execute()
        return changed

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.hget(ACTIVE, key)
        return json.loads(raw) if raw is not None else None

    def acknowledge(self, key: str, by: str, now: dt.datetime, note: str = "") -> dict[str, Any] | None:
        raw = self.client.hget(ACTIVE, key)
        if raw is None:
            return None
        alert: dict[str, Any] = json.loads(raw) | {"acknowledged_by": by, "acknowledged_at": _local(now), "note": note}
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(ACKED, key, json.dumps(alert, ensure_ascii=False))
            pipe.hdel(ACTIVE, key)
            pipe.publish(CHANNEL, json.dumps({"type": "alert_cleared", "id": key, "reason": "acknowledged",
                                              "acknowledged_by": by}, ensure_ascii=False))
            pipe.execute()
        return alert


def _keep_ids(found: list[dict[str, Any]], known: dict[str, dict[str, Any]]) -> None:
    """A cluster that shares tickets with a known alert of the same rule and area is that alert (it grew, or
    its oldest tickets left the window): it keeps the known id."""
    taken: set[str] = set()
    for alert in sorted(found, key=lambda a: -a["count"]):
        tickets = set(alert["tickets"])
        best = max(((len(tickets & set(k["tickets"])), key) for key, k in known.items()
                    if k["rule"] == alert["rule"] and k["area"] == alert["area"] and key not in taken),
                   default=(0, None))
        if best[0] > 0:
            alert["id"] = best[1]
        taken.add(alert["id"])


# ── the detector: session hooks, one background thread, the full scan ──────────
NEW_TICKETS = "hotline_new_tickets"
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
        self._org: Org | None = None
        self.common: frozenset[str] = frozenset()   # refreshed by every full scan
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
    def _org_for(self, session: Session, unit_ids: Iterable[int | None]) -> Org:
        if self._org is None or any(u is not None and u not in self._org.places for u in unit_ids):
            self._org = Org.load(session)
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
            found, scopes, count = [], set(), 0
            for rule in self.rules:
                areas = {a.id for a in (org.area_of(u, rule.area) for u in rows) if a is not None}
                for area in areas:
                    scopes.add((rule.name, org.places[area].code))
                    records = self._records(session, now - rule.window, now, org.members(area))
                    count += len(records)
                    found.extend(detect(records, org, rule, now, {area}, self.common))
            session.rollback()
        return self._store(found, lambda a: (a["rule"], a["area"]) in scopes, now, count, began)

    def scan(self) -> ScanResult:
        """Every rule over every area: what is active now, and expire what no longer is."""
        began = time.perf_counter()
        now = self.clock()
        longest = max((r.window for r in self.rules), default=dt.timedelta())
        with self._lock, self.sessions() as session:
            records = self._records(session, now - longest, now)
            self._org = org = Org.load(session)
            self.common = common_bigrams(records)
            found = [alert for rule in self.rules for alert in detect(records, org, rule, now, common=self.common)]
            session.rollback()
        # expires what this database's areas no longer show (another desk database may share the Redis)
        codes = {p.code for p in org.places.values()}
        return self._store(found, lambda a: a.get("area") in codes, now, len(records), began)

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
