"""回访 and 回拨 figures for a period (issue 14, point 5): for the 观/管/评 views and the daily/weekly/monthly reports.

The definitions, where the province's rules are silent:

- **Callback coverage of missed calls** (未接来电回拨率): ``callbacks.store.coverage`` over the callback tasks whose
  first missed call falls in the period: callers reached (called back and answered, or who rang again and got
  through) within the target / callers with a missed call. Missed calls belong to no unit: one figure per period.
- **回访率**: of the tickets that first reached 待回访 (``awaiting_callback``) in the period, the share that has a
  recorded verdict (a ``callback`` event, by an agent or the automated campaign), whenever it was recorded.
- **Verdict mix**: of those tickets' verdicts, the latest ``callback`` event of each (a ticket reopened after an
  unsatisfied verdict and called back again counts with its last verdict): 满意 / 基本满意 / 不满意, and 解决 / 未解决.
- **By unit**: the ticket's host unit (主办单位); tickets answered directly by the platform (直接办结, no host)
  form the row 平台直接办结. Merged tickets (并单) count: each citizen is called back on their own ticket.

Counts only: no citizen data. Aggregated in SQL per (ticket, host) with one query for the cohort and one for
the verdicts; the ticket filters of a special report (``where``) apply to the cohort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from agent_desk.callbacks import store as callback_store
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.db import models as m
from agent_desk.supervision.periods import Period
from agent_desk.tickets import lifecycle as lc

DIRECT = "平台直接办结"
T, E = m.Ticket, m.TicketEvent
CHUNK = 500   # ticket ids per IN (…) list
S = lc.Satisfaction
VERDICT_SERIES = ((S.SATISFIED.value, S.SATISFIED.label), (S.BASICALLY_SATISFIED.value, S.BASICALLY_SATISFIED.label),
                  (S.UNSATISFIED.value, S.UNSATISFIED.label), ("unverdicted", "未回访"))


@dataclass
class Mix:
    """One row: a unit (or the total) with its 回访 counts."""

    key: str
    name: str
    reached: int = 0              # reached 待回访 in the period
    verdicts: int = 0             # of those, with a recorded verdict
    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0
    solved: int = 0
    unsolved: int = 0

    @property
    def unverdicted(self) -> int:
        return self.reached - self.verdicts

    @property
    def rate(self) -> float | None:
        """回访率: verdicts / reached (None when nothing reached 待回访)."""
        return round(self.verdicts / self.reached, 6) if self.reached else None

    @property
    def satisfaction(self) -> float | None:
        """满意率 of the verdicts: (满意 + 基本满意) / verdicts."""
        return round((self.satisfied + self.basically_satisfied) / self.verdicts, 6) if self.verdicts else None

    def add(self, result: str | None, solved: bool | None) -> None:
        self.reached += 1
        if result is None:
            return
        self.verdicts += 1
        if result == lc.Satisfaction.SATISFIED.value:
            self.satisfied += 1
        elif result == lc.Satisfaction.BASICALLY_SATISFIED.value:
            self.basically_satisfied += 1
        else:
            self.unsatisfied += 1
        if solved:
            self.solved += 1
        else:
            self.unsolved += 1

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "unverdicted": self.unverdicted, "rate": self.rate,
                "satisfaction": self.satisfaction}


@dataclass
class Figures:
    period: str
    coverage: dict[str, Any]
    total: Mix
    units: list[Mix] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "coverage": self.coverage, "total": self.total.to_json(),
                "units": [u.to_json() for u in self.units]}


def coverage(session: Session, period: Period, policy: CallbackPolicy) -> dict[str, Any]:
    found = callback_store.coverage(session, period.start_utc, period.end_utc, policy)
    return {"tasks": found.tasks, "missed_calls": found.missed_calls, "contacted": found.contacted,
            "contacted_within_target": found.contacted_within_target, "rate": found.rate,
            "pending": found.pending, "target_minutes": policy.target_minutes}


def _cohort(session: Session, period: Period, where: Sequence[ColumnElement[bool]]) -> list[tuple[int, int | None]]:
    """(ticket id, host unit id) of the tickets that first reached 待回访 in the period."""
    # Reached 待回访 in the period and never before it: only the period's events are grouped, not the whole history.
    waiting = E.to_state == lc.State.AWAITING_CALLBACK.value
    entered = select(E.ticket_id).where(waiting, E.at >= period.start_utc, E.at < period.end_utc)
    before = aliased(E)
    earlier = (select(before.id).where(before.ticket_id == T.id, before.to_state == lc.State.AWAITING_CALLBACK.value,
                                       before.at < period.start_utc).correlate(T).exists())
    rows = session.execute(select(T.id, T.host_unit_id).where(T.id.in_(entered), ~earlier, *where))
    return [(ticket_id, host) for ticket_id, host in rows]


def _verdicts(session: Session, ids: list[int]) -> dict[int, tuple[str, bool]]:
    """The latest verdict (result, solved) of each ticket in ``ids`` that has one."""
    out: dict[int, tuple[str, bool]] = {}
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        latest = (select(E.ticket_id, func.max(E.seq).label("seq"))
                  .where(E.ticket_id.in_(part), E.action == "callback").group_by(E.ticket_id).subquery())
        for ticket_id, data in session.execute(select(E.ticket_id, E.data).join(
                latest, (latest.c.ticket_id == E.ticket_id) & (latest.c.seq == E.seq))):
            data = data or {}
            out[ticket_id] = (str(data.get("result", "")), bool(data.get("solved")))
    return out


def figures(session: Session, period: Period, policy: CallbackPolicy,
            where: Sequence[ColumnElement[bool]] = (), with_coverage: bool = True) -> Figures:
    """The period's callback coverage and 回访 figures, the units by how many tickets reached 待回访."""
    cohort = _cohort(session, period, where)
    verdicts = _verdicts(session, [ticket_id for ticket_id, _ in cohort])
    names = dict(session.execute(select(m.OrgUnit.id, m.OrgUnit.name).where(
        m.OrgUnit.id.in_({host for _, host in cohort if host is not None}))).all())
    codes = dict(session.execute(select(m.OrgUnit.id, m.OrgUnit.code).where(m.OrgUnit.id.in_(names))).all())
    total = Mix("total", "合计")
    units: dict[int | None, Mix] = {}
    for ticket_id, host in cohort:
        row = units.get(host)
        if row is None:
            row = units[host] = Mix(codes.get(host, "direct") if host is not None else "direct",
                                    names.get(host, DIRECT) if host is not None else DIRECT)
        result, solved = verdicts.get(ticket_id, (None, None))
        row.add(result, solved)
        total.add(result, solved)
    ordered = sorted(units.values(), key=lambda u: (-u.reached, u.name))
    cover = coverage(session, period, policy) if with_coverage else {}
    return Figures(period.label, cover, total, ordered)
