"""Finding clusters of similar appeals (pure: no I/O): title + content in the desk's one representation of text
(``suggest.similarity``: TF-IDF over character 2-3-grams, cosine), single-link clustering inside a rule's window
and area (sparse products per area, connected components: not quadratic in Python), the keywords a cluster
shares (Chinese bigrams chained into the words people say), and the alert that says so."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import scipy.sparse as sp

from agent_desk.knowledge import terms
from agent_desk.supervision.org import OrgIndex
from agent_desk.supervision.warnings.rules import WarningRule
from hotline.reference import topic_names
from suggest import similarity
from suggest.similarity import TextSpace

CONTENT_CHARS = 400          # of a ticket's content compared (the matter is stated first; keeps scans cheap)
KEYWORD_SHARE = 0.5          # a keyword is shared by at least this share of the cluster's tickets
MAX_KEYWORDS = 3
# How hotline tickets are worded, not what they are about: never a reason to join two appeals (cut from the texts
# before they are compared) nor a keyword.
FILLER = frozenset({
    "市民", "来电", "反映", "反应", "称", "表示", "要求", "希望", "诉求", "相关", "部门", "处理", "尽快", "解决",
    "问题", "情况", "目前", "现在", "已经", "一直", "没有", "我们", "他们", "自己", "这个", "那个", "一个",
    "附近", "出现", "存在", "导致", "造成", "进行", "协调", "核实", "请求", "帮忙", "帮助", "投诉", "举报",
    "咨询", "建议", "请问", "了解", "是否", "怎么", "如何", "什么", "可以", "不能", "不是", "非常", "严重",
    "影响", "生活", "居民", "群众", "今天", "昨天", "最近", "近期", "几天", "这两", "两天", "时间", "每天",
})
_FILLER = re.compile("|".join(sorted(FILLER, key=len, reverse=True)))
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


def clusters(records: list[Record], rows: sp.csr_matrix, rule: WarningRule) -> list[list[int]]:
    """Single-link clusters (indexes into ``records``) of at least ``rule.min_count``: two appeals are linked
    when the cosine of their rows (``suggest.similarity``) is at least ``rule.similarity``, or (as the rule
    says) they share a topic or a matter key. Sparse products and connected components: no pair loop."""
    n = len(records)
    if n < rule.min_count:
        return []
    links: list[tuple[int, int]] = []
    for enabled, key in ((rule.link_topic, "topic"), (rule.link_matter, "matter_key")):
        if enabled:
            first: dict[str, int] = {}
            for i, r in enumerate(records):
                value = getattr(r, key)
                if value:
                    links.append((first.setdefault(value, i), i))
    labels = similarity.clusters(rows, rule.similarity, links=links)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(i)
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


@dataclass(frozen=True)
class Prepared:
    """Records in the representation, computed once per evaluation and shared by every rule: each text with its
    own place names and the filler cut out, and its row."""

    space: TextSpace
    texts: list[str]
    rows: sp.csr_matrix
    index: dict[str, int]      # ticket number → row
    _bigrams: dict[int, frozenset[str]] = field(default_factory=dict)

    def bigrams(self, row: int) -> frozenset[str]:
        """The row's Chinese bigrams for keywords, without filler (computed once, whichever rule asks). Read
        off the row: boilerplate is not in it, as it weighs nothing in the similarity."""
        if row not in self._bigrams:
            self._bigrams[row] = frozenset(t for t in self.space.terms_of(self.rows[row], 2)
                                           if not t.isascii() and t not in FILLER)
        return self._bigrams[row]


def prepare(records: list[Record], org: OrgIndex, space: TextSpace | None = None) -> Prepared:
    """The texts (place names and filler cut) and rows of ``records``; ``space`` fitted on them if none is given."""
    patterns: dict[int | None, re.Pattern[str] | None] = {}

    def cut(r: Record) -> str:
        if r.unit_id not in patterns:
            patterns[r.unit_id] = _names_of(org, r.unit_id)
        pattern = patterns[r.unit_id]
        return _FILLER.sub(" ", pattern.sub(" ", r.text) if pattern is not None else r.text)

    texts = [cut(r) for r in records]
    if space is None:
        space, rows = TextSpace.fit_transform(texts)
    else:
        rows = space.transform(texts)
    return Prepared(space, texts, rows, {r.number: i for i, r in enumerate(records)})


def _names_of(org: OrgIndex, unit_id: int | None) -> re.Pattern[str] | None:
    """The names that say where a ticket is, not what: its place and the places above it (村, 镇, 市), and
    every place inside its town (or county) – shared by the tickets there, never a reason to join two."""
    node = org.nodes.get(unit_id) if unit_id is not None else None
    if node is None:
        return None
    area = org.area_of(node.id, "town") or org.area_of(node.id, "county") or node
    return _place_names(org.names_around(node) + [org.nodes[u].name for u in org.subtree(area.id)])


def space_for(records: list[Record], org: OrgIndex) -> TextSpace:
    """The representation fitted on these tickets' texts (the center's own: what is common here weighs little)."""
    return prepare(records, org).space


def detect(records: list[Record], org: OrgIndex, rule: WarningRule, now: dt.datetime,
           areas: set[int] | None = None, space: TextSpace | None = None,
           prepared: Prepared | None = None) -> list[dict[str, Any]]:
    """The alerts of ``rule`` at ``now`` over ``records`` (only in ``areas`` if given), compared in ``space``
    (default: one fitted on the records in the window). ``prepared``: the records' texts and rows if already
    computed (a scan computes them once for every rule). Pure: no I/O."""
    start = now - rule.window
    by_area: dict[int, list[Record]] = {}
    for r in records:
        if start <= r.created_at <= now:
            area = org.area_of(r.unit_id, rule.area)
            if area is not None and (areas is None or area.id in areas):
                by_area.setdefault(area.id, []).append(r)
    if prepared is None:
        prepared = prepare([r for group in by_area.values() for r in group], org, space)
    topic_label = topic_names()
    alerts = []
    for area_id, group in by_area.items():
        if len(group) < rule.min_count:
            continue
        area = org.nodes[area_id]
        group.sort(key=lambda r: (r.created_at, r.number))
        at = [prepared.index[r.number] for r in group]
        for members in clusters(group, prepared.rows[at], rule):
            rows = [group[i] for i in members]
            chosen = [prepared.texts[at[i]] for i in members]
            words = keywords(chosen, [prepared.bigrams(at[i]) for i in members])
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
