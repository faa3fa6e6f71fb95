"""Finding clusters of similar appeals (pure: no I/O): Chinese bigrams of title + content, single-link clustering
inside a rule's window and area, the keywords a cluster shares, and the alert that says so."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from agent_desk.knowledge import terms
from agent_desk.supervision.org import OrgIndex
from agent_desk.supervision.warnings.rules import WarningRule
from hotline.reference import topic_names

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


def detect(records: list[Record], org: OrgIndex, rule: WarningRule, now: dt.datetime,
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
        area = org.nodes[area_id]
        # the area's own names and its places' (towns of a county) say where, not what: cut out, not words
        names = _place_names(org.names_around(area) + [org.nodes[u].name for u in org.subtree(area_id)])
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
