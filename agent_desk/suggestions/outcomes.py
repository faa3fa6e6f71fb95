"""采纳记录: what was suggested for a saved ticket and what the agent chose, and the acceptance supervisors read.

The record is written after the ticket is saved, by its own request: a ticket save never waits for it and never
fails because of it. What was shown comes from the page and is checked here (codes that do not exist, or no longer
do, are dropped with a warning); what was chosen is read from the stored ticket (its topic), and for the unit,
from the form's 拟派承办单位 at save and from the ticket's host unit once dispatched, so a later 退回/改派 counts
against the suggestion it overturned (read when the report is made, not stored twice).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from agent_desk.auth.sessions import Principal
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.settings import PROVINCE_TZ
from agent_desk.suggestions import text as T
from agent_desk.suggestions.models import SuggestionOutcome
from hotline.reference import topic_names

log = logging.getLogger(__name__)

OUTCOMES = ("top1", "other", "overridden", "none", "unshown")
SOURCES = ("model", "rules")
KEPT = 3


@dataclass(frozen=True)
class Shown:
    code: str
    confidence: float | None
    rule: bool


@dataclass
class Recorded:
    recorded: bool
    topic_outcome: str = "none"
    unit_outcome: str = "none"
    warnings: list[str] = field(default_factory=list)


def outcome(chosen: str, shown: Sequence[str]) -> str:
    """top1: the first suggestion taken; other: the second or third; overridden: something else; none: nothing
    chosen; unshown: nothing was suggested."""
    if not shown:
        return "unshown"
    if not chosen:
        return "none"
    if chosen == shown[0]:
        return "top1"
    return "other" if chosen in shown else "overridden"


def record(session: Session, who: Principal, number: str, source: str, model_version: str,
           topics: Sequence[Shown], units: Sequence[Shown], unit_chosen: str = "") -> Recorded:
    """Record the suggestions shown for the agent's own new ticket ``number``, once."""
    ticket = session.scalar(select(m.Ticket).where(m.Ticket.number == number))
    if ticket is None:
        raise DeskError(404, "unknown_ticket", T.UNKNOWN_TICKET.format(number=number))
    if ticket.created_by_id != who.user_id:
        raise DeskError(403, "not_own_ticket", T.NOT_OWN_TICKET)
    if session.scalar(select(SuggestionOutcome.id).where(SuggestionOutcome.ticket_id == ticket.id)) is not None:
        return Recorded(False, warnings=[T.ALREADY_RECORDED])

    warnings: list[str] = []
    if source not in SOURCES:
        warnings.append(T.DROPPED_SOURCE.format(source=source[:16]))
        source = "rules"
    names = topic_names()
    kept_topics = []
    for item in topics[:KEPT]:
        if item.code in names:
            kept_topics.append(item)
        else:
            warnings.append(T.DROPPED_TOPIC.format(code=item.code[:32]))
    active = set(session.scalars(select(m.OrgUnit.code).where(
        m.OrgUnit.code.in_({u.code for u in units[:KEPT]} | {unit_chosen}), m.OrgUnit.active.is_(True))))
    kept_units = []
    for item in units[:KEPT]:
        if item.code in active:
            kept_units.append(item)
        else:
            warnings.append(T.DROPPED_UNIT.format(code=item.code[:32]))
    if unit_chosen and unit_chosen not in active:
        warnings.append(T.DROPPED_CHOSEN_UNIT.format(code=unit_chosen[:32]))
        unit_chosen = ""
    for warning in warnings:
        log.warning("suggestion outcome of ticket %s: %s", number, warning)

    topic_outcome = outcome(ticket.topic, [t.code for t in kept_topics])
    unit_outcome = outcome(unit_chosen, [u.code for u in kept_units])
    session.add(SuggestionOutcome(
        ticket_id=ticket.id, user_id=who.user_id, source=source, model_version=model_version[:64],
        topics=[_json(t) for t in kept_topics], units=[_json(u) for u in kept_units],
        topic_chosen=ticket.topic, topic_outcome=topic_outcome, unit_chosen=unit_chosen, unit_outcome=unit_outcome))
    session.flush()
    return Recorded(True, topic_outcome, unit_outcome, warnings)


def _json(item: Shown) -> dict[str, Any]:
    return {"code": item.code, "confidence": item.confidence, "rule": item.rule}


# ── acceptance, for supervisors ─────────────────────────────────────────────

@dataclass
class Tally:
    top1: int = 0
    other: int = 0
    overridden: int = 0
    none: int = 0

    def add(self, what: str) -> None:
        if what in ("top1", "other", "overridden", "none"):
            setattr(self, what, getattr(self, what) + 1)

    def to_json(self) -> dict[str, Any]:
        decided = self.top1 + self.other + self.overridden
        return {"decided": decided, "top1": self.top1, "other": self.other, "overridden": self.overridden,
                "none": self.none,
                "top1_rate": round(self.top1 / decided, 4) if decided else None,
                "top3_rate": round((self.top1 + self.other) / decided, 4) if decided else None}


def bucket_of(day: dt.date, period: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if period == "week" else day


def acceptance(session: Session, start: dt.date, end: dt.date, period: str = "day") -> dict[str, Any]:
    """Acceptance of the topic and unit suggestions of tickets saved from ``start`` to ``end`` (local days,
    inclusive), in total, per ``period`` ("day" or "week", weeks from Monday), by the suggested first topic and
    by the suggested first unit. A unit is judged against the ticket's host unit once dispatched (after any
    return or 改派), before that against the unit on the form at save."""
    lo = dt.datetime.combine(start, dt.time(), PROVINCE_TZ)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), PROVINCE_TZ)
    host = aliased(m.OrgUnit)
    rows = session.execute(
        select(SuggestionOutcome, host.code)
        .join(m.Ticket, m.Ticket.id == SuggestionOutcome.ticket_id)
        .outerjoin(host, host.id == m.Ticket.host_unit_id)
        .where(SuggestionOutcome.at >= lo, SuggestionOutcome.at < hi)
        .order_by(SuggestionOutcome.at)).all()

    totals = {"topics": Tally(), "units": Tally()}
    series: dict[dt.date, dict[str, Tally]] = defaultdict(lambda: {"topics": Tally(), "units": Tally()})
    by_topic: dict[str, Tally] = defaultdict(Tally)
    by_unit: dict[str, Tally] = defaultdict(Tally)
    changed = Counter[str]()
    for row, host_code in rows:
        unit_codes = [u["code"] for u in row.units]
        final_unit = host_code or row.unit_chosen
        unit_outcome = outcome(final_unit, unit_codes)
        if host_code and row.unit_chosen and host_code != row.unit_chosen:
            changed["units"] += 1
        day = bucket_of(row.at.astimezone(PROVINCE_TZ).date(), period)
        for kind, what, codes, per in (("topics", row.topic_outcome, [t["code"] for t in row.topics], by_topic),
                                       ("units", unit_outcome, unit_codes, by_unit)):
            if what == "unshown":
                continue
            totals[kind].add(what)
            series[day][kind].add(what)
            per[codes[0]].add(what)

    buckets = []
    day = bucket_of(start, period)
    step = dt.timedelta(days=7 if period == "week" else 1)
    while day <= end:
        tallies = series.get(day) or {"topics": Tally(), "units": Tally()}
        buckets.append({"start": day.isoformat(), "topics": tallies["topics"].to_json(),
                        "units": tallies["units"].to_json()})
        day += step
    names = topic_names()
    unit_names = {code: name for code, name in session.execute(
        select(m.OrgUnit.code, m.OrgUnit.name).where(m.OrgUnit.code.in_(set(by_unit))))} if by_unit else {}
    return {
        "period": period, "start": start.isoformat(), "end": end.isoformat(), "tickets": len(rows),
        "changed_after_save": changed["units"],
        "totals": {kind: tally.to_json() for kind, tally in totals.items()},
        "series": buckets,
        "by_topic": _ranked(by_topic, names),
        "by_unit": _ranked(by_unit, unit_names),
    }


def _ranked(tallies: dict[str, Tally], names: dict[str, str]) -> list[dict[str, Any]]:
    rows = [{"code": code, "name": names.get(code, code), **tally.to_json()} for code, tally in tallies.items()]
    rows.sort(key=lambda r: (-r["decided"], r["code"]))
    return rows
