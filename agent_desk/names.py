"""Names people read instead of codes (issue 19, point 6): units (承办单位), topics (业务分类), queues (队列),
knowledge articles (知识库条目) and people (办理人). Codes stay what the API and the exports speak; the API adds a
``*_name`` next to each code it returns, and the pages show the name.

One lookup per kind, each from the reference data the desk already has: units and people from their tables
(``org_units``, ``users``), knowledge articles from ``knowledge_articles``, topics from ``hotline.reference`` (the
topic list the desk loads at install), queues from the number plan. ``Names`` asks the database once per kind and
code within one unit of work, and only for the codes asked about.

``history_text`` turns a history entry's fields into the sentence the 办理记录 shows
("主办单位：海口市住房和城乡建设局；理由：…"), every code named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.org import SUBPLATFORM_SUFFIX
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.service import CHANNEL_LABELS
from hotline.numberplan import NumberPlan
from hotline.reference import topic_names
from hotline.vocab import AppealType, Satisfaction

# What each kind of organisation-tree node is called (``org_units.kind``).
UNIT_KIND_LABELS = {"province": "省平台", "subplatform": "市县分平台", "member_unit": "成员单位", "district": "区",
                    "town": "乡镇/街道", "village": "村/社区", "grid": "网格"}
SYSTEM_ACTOR = "system"
SYSTEM_NAME = "系统"
OPERATOR_NAME = "服务器运维人员"

# A history entry's fields whose value is a unit code, or a list of them.
UNIT_FIELDS = frozenset({"host_unit", "host", "unit", "decided_unit", "decided"})
UNIT_LIST_FIELDS = frozenset({"co_units", "units"})
# Fields whose value is a code of a vocabulary (when it is one: "reason" is free text on most actions).
VALUE_LABELS: dict[str, dict[str, str]] = {
    "result": Satisfaction.labels(), "reason": lc.OutOfScope.labels(), "category": lc.Exclusion.labels(),
    "to": lc.Level.labels(), "from": lc.Level.labels(), "appeal_type": AppealType.labels(),
    "urgency": lc.Urgency.labels(), "channel": dict(CHANNEL_LABELS),
}
TIME_FIELDS = frozenset({"due_at", "at"})
# Field names the lifecycle's table (``lc.EVENT_FIELD_LABELS``) lacks, or names better said in the entry.
EXTRA_FIELD_LABELS = {"from": "原层级", "decided": "定责单位"}
# Fields that say nothing to a reader of the history (ids of the machinery).
HIDDEN_FIELDS = frozenset({"TransferID", "CallID", "call_id", "SetupMs", "Conference", "Trunk"})
TRANSFER_KINDS = {"three_way": "三方转接", "retained_seat": "转双号并行坐席", "one_key": "一键转接",
                  "emergency": "紧急联动", "blind": "直接转接", "attended": "咨询后转接", "queue": "转回队列"}
TRANSFER_OUTCOMES = {"bridged": "已接通（三方）", "answered": "已接通", "queued": "已进入队列", "consulting": "咨询中",
                     "no_answer": "无人接听", "busy": "忙线", "failed": "线路不通", "citizen_gone": "市民已挂机"}
TRANSFER_VALUES = {"Kind": TRANSFER_KINDS, "Outcome": TRANSFER_OUTCOMES,
                   "Fallback": {"agent": "留在原坐席", "": ""}}


def topic_name(code: str | None) -> str | None:
    """业务分类 by its code (``03-water`` → 供水排水); None for no topic, the code itself for one not in the list."""
    if not code:
        return None
    return topic_names().get(code, code)


def queue_name(plan: NumberPlan, queue: str) -> str:
    """A queue of the number plan by its name (``province``, ``expert-12320``, ``sp-460100``) → its Chinese name."""
    queues = plan.all_queues()
    return queues[queue].name if queue in queues else queue


def queue_names(plan: NumberPlan | None, city_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every queue of the number plan → its Chinese name. Without the plan (the desk not yet linked to the phone
    system), the sub-platforms' queues are still named from the cities the desk knows, as the plan names them."""
    if plan is not None:
        return {name: queue.name for name, queue in plan.all_queues().items()}
    return {f"sp-{code}": f"{name}分平台" for code, name in (city_names or {}).items()}


class Names:
    """The lookups of one unit of work: each code asked about is read at most once. ``queues``: queue → Chinese
    name (``queue_names``), for the transfers in a history."""

    def __init__(self, session: Session, queues: Mapping[str, str] | None = None):
        self.session = session
        self._queues = dict(queues or {})
        self._units: dict[str, str | None] = {}
        self._people: dict[str, str | None] = {}
        self._articles: dict[str, str | None] = {}

    # ── units ────────────────────────────────────────────────────────────────
    def units(self, codes: Iterable[str | None]) -> dict[str, str]:
        """code → name of the known units among ``codes``."""
        wanted = {c for c in codes if c}
        missing = wanted - self._units.keys()
        if missing:
            found = dict(self.session.execute(select(m.OrgUnit.code, m.OrgUnit.name)
                                              .where(m.OrgUnit.code.in_(sorted(missing)))).all())
            self._units.update({code: found.get(code) for code in missing})
        return {c: name for c in wanted if (name := self._units[c]) is not None}

    def unit(self, code: str | None) -> str | None:
        """The unit's name; the code itself for a unit the tree no longer has; None for no unit."""
        if not code:
            return None
        return self.units([code]).get(code, code)

    def place(self, subplatform: str | None) -> str | None:
        """A 市县分平台 by its code, as its city or county is called (469002 → 琼海市)."""
        name = self.unit(subplatform)
        return name.removesuffix(SUBPLATFORM_SUFFIX) if name else None

    # ── people ───────────────────────────────────────────────────────────────
    def people(self, usernames: Iterable[str | None]) -> dict[str, str]:
        """username → display name (姓名) of the known users among ``usernames``."""
        wanted = {u for u in usernames if u and u not in (SYSTEM_ACTOR, "operator")}
        missing = wanted - self._people.keys()
        if missing:
            found = dict(self.session.execute(select(m.User.username, m.User.display_name)
                                              .where(m.User.username.in_(sorted(missing)))).all())
            self._people.update({u: found.get(u) for u in missing})
        return {u: name for u in wanted if (name := self._people[u])}

    def person(self, username: str | None) -> str:
        """Who did it, as people call them: the display name; 系统 for the desk itself."""
        if not username:
            return ""
        if username == SYSTEM_ACTOR:
            return SYSTEM_NAME
        if username == "operator":
            return OPERATOR_NAME
        return self.people([username]).get(username, username)

    # ── knowledge articles ───────────────────────────────────────────────────
    def article(self, code: str | None) -> str | None:
        """A knowledge article's title (its code when there is no such article)."""
        if not code:
            return None
        if code not in self._articles:
            self._articles[code] = self.session.scalar(select(KnowledgeArticle.title)
                                                       .where(KnowledgeArticle.code == code))
        return self._articles[code] or code

    # ── queues ───────────────────────────────────────────────────────────────
    def queue(self, name: str) -> str:
        """A queue by its Chinese name (its name in the plan when the desk does not know it)."""
        return self._queues.get(name, name)

    # ── history ──────────────────────────────────────────────────────────────
    def history_text(self, action: str, data: dict[str, Any] | None) -> str:
        """A history entry's fields as the 办理记录 shows them: "主办单位：海口市住房和城乡建设局；理由：…"."""
        if not isinstance(data, dict):
            return ""
        self.units([*(v for k, v in data.items() if k in UNIT_FIELDS and isinstance(v, str)),
                    *(c for k, v in data.items() if k in UNIT_LIST_FIELDS and isinstance(v, list)
                      for c in v if isinstance(c, str))])   # one query for the entry's units
        parts = []
        for key, value in data.items():
            if key in HIDDEN_FIELDS or value is None or value == "" or value == []:
                continue
            if action == "supervise" and key == "count":
                parts.append(f"第{value}次督办")
                continue
            if key == "Target" and data.get("Kind") == "queue" and isinstance(value, str):
                parts.append(f"{field_label(key)}：{self.queue(value)}")   # 转回队列: the queue, by its name
                continue
            shown = self._value(key, value)
            if shown:
                parts.append(f"{field_label(key)}：{shown}")
        return "；".join(parts)

    def _value(self, key: str, value: Any) -> str:
        if key in UNIT_FIELDS and isinstance(value, str):
            return self.unit(value) or ""
        if key in UNIT_LIST_FIELDS and isinstance(value, list):
            return "、".join(self.unit(str(c)) or "" for c in value)
        if key == "knowledge_ref" and isinstance(value, str):
            return self.article(value) or ""
        if key == "Agent" and isinstance(value, str):
            return self.person(value)
        if key in TIME_FIELDS and isinstance(value, str):
            return _local_time(value)
        if isinstance(value, bool):
            return "是" if value else "否"
        if key == "Fallback" and isinstance(value, str) and value.startswith("queue:"):
            queue = value.removeprefix("queue:")
            return f"转回{self._queues[queue]}" if queue in self._queues else "转回队列"
        table = VALUE_LABELS.get(key) or TRANSFER_VALUES.get(key)
        if table is not None and isinstance(value, str) and value in table:
            return table[value]
        if isinstance(value, list):
            return "、".join(str(v) for v in value)
        if isinstance(value, dict):
            return "；".join(f"{field_label(k)}：{v}" for k, v in value.items())
        return str(value)


def field_label(key: str) -> str:
    return EXTRA_FIELD_LABELS.get(key) or lc.EVENT_FIELD_LABELS.get(key, key)


def _local_time(iso: str) -> str:
    try:
        at = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(PROVINCE_TZ).strftime("%Y-%m-%d %H:%M")
