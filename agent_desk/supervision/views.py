"""The three big-screen views: 观 overview (volumes and where they come from), 管 process (what is open now,
what is late, returns and supervision), 评 evaluation (rankings of units or areas by the KPIs).

All counting goes through ``kpi.aggregate`` (SQL, grouped); nothing here loads ticket rows except the
≤ 50 overdue tickets 管 lists, and those carry no personal data (number, title, unit, deadline).

One population per screen, so that widgets side by side agree (issue 19):
- 观 drilled into an area (``parent``) counts only that area everywhere (totals, trend, types, channels, lines,
  topics): an area's tickets are those located in its subtree (``location_unit``, else the ticket's
  sub-platform, as the area grouping places them), its calls those of its sub-platforms.
- 热线分布 counts the phone tickets (channel ``phone``) by the line they came in on, so its rows add up to
  受理渠道's 电话; a phone ticket whose line was not recorded is its own row (号码未记录), never 非电话渠道.
- 评 by unit lists, at the top, the tickets no unit holds (未派单: direct resolutions and tickets awaiting
  dispatch) as a row of their own, unranked: the rows then add up to the totals above them, so 办结率 at the
  top is the rows' 办结率 and not a different population's. Drilled in (``parent``), the totals are the
  parent's: the sum of the rows shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypedDict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.supervision import kpi
from agent_desk.supervision.kpi import C, T, Context, OrgIndex
from agent_desk.supervision.periods import Period
from agent_desk.tickets import lifecycle as lc

RANKED_METRICS = ("satisfaction", "effective_satisfaction", "on_time", "response", "resolution", "completion")
LEVEL_LABELS = {lc.Level.TOWN: "小环（镇街办理）", lc.Level.COUNTY: "中环（县区协调）",
                lc.Level.CITY: "大环（市级攻坚）", lc.Level.PROVINCE: "大环（省级攻坚）"}
OPEN = sorted(s.value for s in lc.OPEN_STATES - {lc.State.MERGED})   # merged tickets are counted by their host
HANDLING = sorted(s.value for s in lc.UNIT_HANDLING)
DUE_SOON = dt.timedelta(hours=24)
PHONE = "phone"
LINE_NOT_RECORDED = "号码未记录"


def area_where(index: OrgIndex, code: str) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """(ticket filter, call filter) of an area: the tickets the area grouping places in the area's subtree
    (their location unit, else their sub-platform's node) and the calls of the sub-platforms in it."""
    ids = index.subtree(index.id_of(code))
    codes = sorted(index.nodes[i].code for i in ids)
    tickets = or_(T.location_unit_id.in_(sorted(ids)), and_(T.location_unit_id.is_(None), T.subplatform.in_(codes)))
    return [tickets], [C.subplatform.in_(codes)]


def _values(rows: Sequence[kpi.Row], limit: int | None = None,
            **extra: Callable[[kpi.Row], Any]) -> list[dict[str, Any]]:
    ordered = sorted(rows, key=lambda r: (-r.counts.get("accepted", 0), r.key))
    return [{"key": r.key, "name": r.name, "value": int(r.counts.get("accepted", 0)),
             **{name: fn(r) for name, fn in extra.items()}} for r in ordered[:limit]]


class OpenByUnit(TypedDict):
    """管: one unit's open tickets now, and its returns in the period."""

    key: str
    name: str
    open: int
    overdue: int
    returns: int
    has_children: bool


def trend(session: Session, period: Period, where: Sequence[ColumnElement[bool]] = (),
          call_where: Sequence[ColumnElement[bool]] | None = None) -> dict[str, list[Any]]:
    """Tickets accepted, calls offered and answered per bucket (hours of a day, days, or months). Calls are
    counted under ``call_where`` (none when the tickets are narrowed and no call filter is given)."""
    buckets = period.buckets()
    starts = [start for _, start in buckets]
    tickets = kpi.aggregate(session, {"accepted": func.count()}, [kpi.bucket(T.created_at, starts)],
                            [*kpi.ticket_population(period), *where])
    calls: dict[tuple[Any, ...], kpi.Counts] = {} if where and call_where is None else kpi.aggregate(
        session, {"offered": func.count(), "answered": kpi.flag(C.answered_at.is_not(None))},
        [kpi.bucket(C.started_at, starts)], [*kpi.call_population(period), *(call_where or ())])

    def at(table: dict[tuple[Any, ...], kpi.Counts], i: int, name: str) -> int:
        return int(table.get((i,), {}).get(name, 0))

    return {"labels": [label for label, _ in buckets],
            "accepted": [at(tickets, i, "accepted") for i in range(len(buckets))],
            "offered": [at(calls, i, "offered") for i in range(len(buckets))],
            "answered": [at(calls, i, "answered") for i in range(len(buckets))]}


def overview(session: Session, ctx: Context, period: Period, parent: str | None = None) -> dict[str, Any]:
    """观: totals, the trend, and where the tickets come from (type, channel, line, area, topic); drilled into an
    area (``parent``), all of it for that area alone."""
    index = OrgIndex.load(session)
    count = ("accepted",)
    where, call_where = area_where(index, parent) if parent else ([], [])

    def group(by: str, **kw: Any) -> kpi.Grouping:
        return kpi.group_rows(session, ctx, period, by, index=index, **kw)

    # The area grouping counts every ticket of the population: it gives the totals too.
    areas = group("area", parent=parent, where=where)
    lines = group("line", measures=("accepted", *kpi.call_sums(ctx)),
                  where=[*where, T.channel == PHONE], call_where=call_where)
    for row in lines.rows:
        if not row.key:
            row.name = LINE_NOT_RECORDED
    totals = dict(areas.total)
    kpi.add(totals, {k: v for k, v in lines.total.items() if k != "accepted"})
    return {
        "period": period.to_json(),
        "totals": kpi.totals_json(totals),
        "trend": trend(session, period, where, call_where),
        "by_appeal_type": _values(group("appeal_type", measures=count, where=where).rows),
        "by_channel": _values(group("channel", measures=count, where=where).rows),
        "by_line": _values(lines.rows, offered=lambda r: int(r.counts.get("offered", 0))),
        "by_area": _values(areas.rows, has_children=lambda r: r.has_children),
        "parent": parent,
        "top_topics": _values(group("topic", measures=count, where=where).rows, limit=10),
    }


def process(session: Session, ctx: Context, period: Period, parent: str | None = None,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """管: the open tickets now (by state, ring and unit; overdue and due within 24 h), and the returns (退单)
    and supervisions (督办) of the period."""
    now = now or dt.datetime.now(dt.UTC)
    index = OrgIndex.load(session)
    open_now = [T.state.in_(OPEN), T.linked_to_id.is_(None), T.merged_into_id.is_(None)]   # 并单: once (kpi)
    handling = T.state.in_(HANDLING)
    sums = {"open": func.count(),
            "overdue": kpi.flag(and_(handling, T.due_at < now)),
            "due_soon": kpi.flag(and_(handling, T.due_at >= now, T.due_at < now + DUE_SOON))}
    overall = kpi.aggregate(session, sums, [], open_now).get((), {})
    by_state = kpi.aggregate(session, {"open": func.count()}, [T.state], open_now)
    by_level = kpi.aggregate(session, {"open": func.count()}, [T.level], open_now)

    event = m.TicketEvent
    in_period = [event.at >= period.start_utc, event.at < period.end_utc]
    returns_by_code = kpi.aggregate(session, {"returns": func.count()}, [event.data["unit"].as_string()],
                                    [event.action == "request_return", *in_period])
    supervisions = session.scalar(select(func.count()).select_from(event)
                                  .where(event.action == "supervise", *in_period)) or 0

    per_node: dict[int | None, kpi.Counts] = {key[0]: part for key, part in
                                               kpi.aggregate(session, sums, [T.host_unit_id], open_now).items()}
    for (code,), part in returns_by_code.items():
        kpi.add(per_node.setdefault(index.by_code.get(code or ""), {}), part)
    roots = index.roots()
    parent_id = index.id_of(parent) if parent else (roots[0] if len(roots) == 1 else None)
    rolled = kpi.roll_up(index, per_node, parent_id, set(roots))
    rolled.pop(None, None)
    by_unit: list[OpenByUnit] = []
    for node_id, part in rolled.items():
        assert node_id is not None  # popped above
        node, own = index.nodes[node_id], node_id == parent_id
        by_unit.append({"key": node.code, "name": f"{node.name}（本级）" if own else node.name,
                        "open": int(part.get("open", 0)), "overdue": int(part.get("overdue", 0)),
                        "returns": int(part.get("returns", 0)),
                        "has_children": not own and index.has_children(node_id)})
    by_unit.sort(key=lambda r: (-r["overdue"], -r["open"], r["key"]))

    late = session.execute(select(T.number, T.title, m.OrgUnit.name, T.due_at)
                           .join(m.OrgUnit, m.OrgUnit.id == T.host_unit_id, isouter=True)
                           .where(handling, T.due_at < now, T.linked_to_id.is_(None), T.merged_into_id.is_(None))
                           .order_by(T.due_at, T.id).limit(50))
    overdue_tickets = []
    for number, title, unit, due in late:
        assert due is not None  # selected by its due_at
        overdue_tickets.append({"number": number, "title": title, "unit": unit, "due_at": due.isoformat()})
    return {
        "period": period.to_json(),
        "by_state": [{"key": s.value, "name": lc.STATE_LABELS[s], "value": int(by_state.get((s.value,), {})
                                                                                .get("open", 0))}
                     for s in lc.State if s.value in OPEN],
        "overdue": int(overall.get("overdue", 0)), "due_soon": int(overall.get("due_soon", 0)),
        "open": int(overall.get("open", 0)),
        "returns": sum(int(p["returns"]) for p in returns_by_code.values()),
        "supervisions": int(supervisions),
        "by_level": [{"key": level.value, "name": LEVEL_LABELS[level],
                      "value": int(by_level.get((level.value,), {}).get("open", 0))} for level in lc.LEVEL_ORDER],
        "by_unit": by_unit, "parent": parent,
        "overdue_tickets": overdue_tickets,
    }


def evaluation(session: Session, ctx: Context, period: Period, by: str = "unit", parent: str | None = None,
               min_volume: int = 10) -> dict[str, Any]:
    """评: the KPIs of every unit or area, and the top 20 of each ranked metric. The totals are the sum of the
    rows shown (with 未派单 at the top by unit), so the gauges and the table tell the same story."""
    if by not in ("unit", "area"):
        raise DeskError(422, "invalid_by", "评价排名只能按承办单位（unit）或区域（area）")
    grouping = kpi.group_rows(session, ctx, period, by, parent)
    rows = grouping.rows
    rankings = {}
    for metric in RANKED_METRICS:
        top = [(r, row) for r, row in kpi.rank(rows, metric, min_volume) if r is not None][:20]
        num, den = kpi.RATIOS[metric]
        rankings[metric] = [{"rank": r, "key": row.key, "name": row.name}
                            | kpi.ratio(row.counts.get(num, 0), row.counts.get(den, 0)) for r, row in top]
    listed = [kpi.row_json(r, row, "satisfaction") for r, row in kpi.rank(rows, "satisfaction", min_volume)]
    counts: kpi.Counts = {}
    for row in rows:
        kpi.add(counts, row.counts)
    if by == "unit" and not parent:
        unassigned = kpi.aggregate(session, kpi.ticket_sums(ctx, period), [],
                                   [*kpi.ticket_population(period), T.host_unit_id.is_(None)]).get((), {})
        if unassigned.get("accepted"):
            listed.append(kpi.row_json(None, kpi.Row("", kpi.UNKNOWN["unit"], False, unassigned, False),
                                       "satisfaction"))
            kpi.add(counts, unassigned)
    # Call figures belong to the whole hotline: shown at the top level only (a unit or an area has none).
    with_calls = not parent
    if with_calls:
        kpi.add(counts, kpi.aggregate(session, kpi.call_sums(ctx), [], kpi.call_population(period)).get((), {}))
    return {"period": period.to_json(), "by": by, "parent": parent, "min_volume": min_volume,
            "totals": kpi.totals_json(counts, with_calls), "rankings": rankings, "rows": listed}
