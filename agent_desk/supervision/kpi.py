"""The province's KPIs (考核指标): definitions, and one SQL query builder that computes them per any grouping.

Definitions (the lead's decisions where the province's rules are silent)
-----------------------------------------------------------------------
Population: tickets by ``created_at`` (受理时间) in the period, province time. Refused tickets (不予受理, state
``refused``) count in 受理量 but in none of the rates below. Tickets linked as repeats (``linked_to``) are not
separate tickets.

并单 (merged duplicate appeals) count the matter once: a ticket merged into a host (``merged_into_id`` not null)
is in no ticket figure: not in 受理量, 派单量, the completion, on-time, callback or satisfaction rates, nor in the
process view's open and overdue counts. The matter is counted through its host alone, with the host's own
dates, deadline and callback verdict; the merged citizens' callback verdicts are recorded on their own tickets
(they are read there) and do not add verdicts. Calls are calls: a call whose ticket was merged still counts in
every call figure (呼入量, 接通率 …), which are read from ``calls``. A ticket unmerged by a supervisor is a
matter of its own again from then on (it counts, in the period of its own 受理 date).

- 受理量 accepted: every ticket of the population; 直接办结量 direct (``direct_resolution``); 派单量 dispatched
  (``dispatched_at`` not null); 不予受理量 refused.
- 响应率 response = dispatched tickets whose host unit signed (签收 event) within the response window
  (``DeskSettings.response_window``, default 24 h) after dispatch ÷ dispatched tickets.
- 办结率 completion = tickets whose handling is complete (direct resolution, or the unit's reply was approved:
  event approve_reply / resolve_directly, i.e. states awaiting_callback / unsatisfied / appealed / closed
  reached) ÷ accepted-not-refused tickets. It is read from the current state: a ticket reopened (重办) is being
  handled again and counts as not complete until its new reply is approved. One population wherever it is shown:
  a table by host unit has no unit for the tickets not dispatched (direct resolutions, tickets awaiting
  dispatch), so 评 lists them as a row of their own (未派单) and its rows add up to the total above them
  (50 % on top and 100 % in every unit's row was that row missing, not two definitions).
- 热线分布 (tickets by line) counts the phone channel's tickets only, so it adds up to 受理渠道's 电话.
- 按时办结率 on_time = tickets completed by the unit on time (``closed_on_time`` true) ÷ 应办结 (tickets with a
  deadline (``due_at``) that either fell in the period or whose handling was completed in the period, i.e. the
  unit had to be done). Completion time = the last approve_reply / resolve_directly event. Check: 琼海
  115,647 ÷ 116,064 = 99.64%.
- 回访率 callback = completed tickets with a callback verdict (``satisfaction`` not null) ÷ completed tickets.
- 满意率 satisfaction = (满意 + 基本满意) ÷ (满意 + 基本满意 + 不满意) among callback verdicts. Check: 琼海
  65,267 ÷ (65,267 + 1,886) = 97.19%.
- 实际参评满意率 effective_satisfaction = the same after removing tickets whose appeal was approved with one of
  the three exclusion categories (``tickets.excluded`` not null: illegal_or_against_public_order,
  beyond_remit, other_legal_channel) from numerator AND denominator. An appeal that was rejected keeps the
  ticket in.
- 解决率 resolution = callback verdicts with ``solved`` true ÷ callback verdicts, excluded tickets removed (as
  above).
- Call center (the GB/T 33358 figures of issue 12), from ``calls`` by ``started_at`` in the period.
  呼入量 offered = calls that asked for a person: they reached a queue (``queued_at`` not null) and their
  wait is over (answered, ended, or abandoned); a caller still waiting counts once answered or gone.
  接通率 answer = answered (``answered_at`` not null) ÷ offered – GB/T 33358's 接通率, calls an agent answered
  over calls that requested a human. A caller who hung up within ``SHORT_ABANDON_SECONDS`` (5 s) of joining
  the queue is counted as offered and not answered, like any other abandon: the centre does not get to
  decide that a quick hang-up was no real request; 5秒内放弃率 short_abandon (≤ 5 s from queue join to hang-up)
  ÷ offered shows how much of the gap they are.
  服务水平 service_level = answered within the threshold (``DeskSettings.service_level_seconds``, default 15;
  answered_at − queued_at ≤ threshold) ÷ offered; 放弃率 abandon = outcome 'abandoned' ÷ offered;
  预填可用率 prefill = answered calls whose agent had a usable prefill (a transcript) at the answer
  (``prefill_usable``) ÷ answered calls.
  Means in seconds (``{"seconds", "n"}``): 平均等待时长 wait = mean(answered_at − queued_at) of answered calls
  (from the first queue joined, overflows included); 来电至入队平均时长 to_queue = mean(queued_at − arrived_at)
  of offered calls whose arrival (the inbound channel's Newchannel) the desk saw; 平均处理时长 aht =
  mean(ended_at − answered_at) of answered calls that ended.
- A rate with a zero denominator is null (shown as "—"), never 0 or 100%.

Every metric in JSON is ``{"num": int, "den": int, "rate": float|null}`` (the means aht, wait, to_queue:
``{"seconds": float|null, "n": int}``). Everything is counted in SQL (``SUM(CASE …)`` grouped by a column):
``aggregate`` is the one query builder, parameterised by the grouping columns; units and areas are grouped by
their org unit in SQL and the (additive) counts rolled up the organisation tree in Python, which holds a few
thousand nodes at most.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Label, SQLColumnExpression, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.supervision.org import OrgIndex
from agent_desk.settings import DeskSettings
from hotline.numberplan import SERVICE_LEVEL_SECONDS
from agent_desk.supervision.periods import Period
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.service import APPEAL_LABELS, CHANNEL_LABELS
from hotline.reference import topic_names as topic_names  # re-exported: reports and views read it here

TICKET_METRICS = ("response", "completion", "on_time", "callback", "satisfaction", "effective_satisfaction",
                  "resolution")
CALL_METRICS = ("answer", "service_level", "abandon", "short_abandon", "prefill")
METRICS = TICKET_METRICS + CALL_METRICS
METRIC_LABELS = {"response": "响应率", "completion": "办结率", "on_time": "按时办结率", "callback": "回访率",
                 "satisfaction": "满意率", "effective_satisfaction": "实际参评满意率", "resolution": "解决率",
                 "answer": "接通率", "service_level": "服务水平", "abandon": "放弃率",
                 "short_abandon": "5秒内放弃率", "prefill": "预填可用率", "aht": "平均处理时长",
                 "wait": "平均等待时长", "to_queue": "来电至入队平均时长"}
COUNT_LABELS = {"accepted": "受理量", "direct": "直接办结量", "dispatched": "派单量", "refused": "不予受理量",
                "offered": "呼入量", "answered": "接通量", "within_threshold": "阈值内接通量",
                "abandoned": "放弃量", "short_abandoned": "5秒内放弃量", "prefilled": "带可用预填接通量"}
LOWER_IS_BETTER = frozenset({"abandon", "short_abandon"})
SHORT_ABANDON_SECONDS = 5
# metric → (numerator, denominator) among the sums below
RATIOS = {
    "response": ("responded", "dispatched"),
    "completion": ("completed", "not_refused"),
    "on_time": ("on_time", "due"),
    "callback": ("called_back", "completed"),
    "satisfaction": ("satisfied", "verdicts"),
    "effective_satisfaction": ("kept_satisfied", "kept_verdicts"),
    "resolution": ("kept_solved", "kept_verdicts"),
    "answer": ("answered", "offered"),
    "service_level": ("within_threshold", "offered"),
    "abandon": ("abandoned", "offered"),
    "short_abandon": ("short_abandoned", "offered"),
    "prefill": ("prefilled", "answered"),
}
# mean → (sum of seconds, how many) among the sums below
MEANS = {"aht": ("talk_seconds", "talked"), "wait": ("wait_seconds", "answered"),
         "to_queue": ("to_queue_seconds", "arrived")}
COMPLETE_STATES = (lc.State.AWAITING_CALLBACK.value, lc.State.UNSATISFIED.value, lc.State.APPEALED.value,
                   lc.State.CLOSED.value)
SATISFIED = (lc.Satisfaction.SATISFIED.value, lc.Satisfaction.BASICALLY_SATISFIED.value)
COMPLETING_ACTIONS = ("approve_reply", "resolve_directly")
BY = ("unit", "area", "subplatform", "line", "topic", "appeal_type", "channel")
BY_LABELS = {"unit": "承办单位", "area": "区域", "subplatform": "分平台", "line": "热线号码", "topic": "诉求事项",
             "appeal_type": "诉求类型", "channel": "受理渠道"}
PLACE_KINDS = frozenset({"subplatform", "district", "town", "village", "grid"})
UNKNOWN = {"unit": "未派单", "area": "未知区域", "subplatform": "未归属分平台", "line": "非电话渠道",
           "topic": "未分类", "appeal_type": "未分类", "channel": "未知渠道"}

T = m.Ticket
C = m.Call


# ── the rules a computation needs ────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Context:
    dialect: str
    response_window: dt.timedelta = dt.timedelta(hours=24)
    service_level_seconds: int = SERVICE_LEVEL_SECONDS
    line_names: dict[str, str] = field(default_factory=dict)
    city_names: dict[str, str] = field(default_factory=dict)
    callbacks: CallbackPolicy = field(default_factory=CallbackPolicy)   # 回拨 target of the coverage figures

    @classmethod
    def of(cls, session: Session, settings: DeskSettings, line_names: dict[str, str] | None = None,
           city_names: dict[str, str] | None = None) -> Context:
        return cls(session.get_bind().dialect.name, settings.response_window, settings.service_level_seconds,
                   dict(line_names if line_names is not None else settings.line_names),
                   dict(city_names if city_names is not None else settings.city_names), settings.callbacks)


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """``end − start`` in seconds on either backend (SQLite: julianday, rounded to the millisecond so that
    exactly 20 s is not 20.00003 s; PostgreSQL: exact epoch difference)."""
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


# ── what is counted ──────────────────────────────────────────────────────────────────────────────────
def ticket_population(period: Period) -> list[ColumnElement[bool]]:
    return [T.created_at >= period.start_utc, T.created_at < period.end_utc, T.linked_to_id.is_(None),
            T.merged_into_id.is_(None)]   # 并单: the matter counts once, through its host


def call_population(period: Period) -> list[ColumnElement[bool]]:
    """Offered calls: they reached a queue and their wait is over (answered, ended or abandoned)."""
    settled = or_(C.answered_at.is_not(None), C.ended_at.is_not(None), C.outcome == "abandoned")
    return [C.started_at >= period.start_utc, C.started_at < period.end_utc, C.queued_at.is_not(None), settled]


def ticket_sums(ctx: Context, period: Period) -> dict[str, ColumnElement[Any]]:
    """Every additive count the ticket metrics are made of, as ``SUM(CASE …)`` over ``tickets``."""
    sign, done = aliased(m.TicketEvent), aliased(m.TicketEvent)
    not_refused = T.state != lc.State.REFUSED.value
    complete = T.state.in_(COMPLETE_STATES)
    dispatched = T.dispatched_at.is_not(None)
    signed_in_time = (select(literal_column("1")).where(sign.ticket_id == T.id, sign.action == "sign",
                                                       seconds_between(ctx.dialect, T.dispatched_at, sign.at)
                                                       <= ctx.response_window.total_seconds()).exists())
    completed_at = (select(func.max(done.at)).where(done.ticket_id == T.id, done.action.in_(COMPLETING_ACTIONS))
                    .scalar_subquery())
    # 应办结: a deadline in the period (tickets of the period are due after they start), or done in the period.
    # The event subquery runs only for completed tickets due after the period.
    due = case((T.due_at.is_(None), 0), (T.due_at < period.end_utc, 1),
               (and_(complete, completed_at < period.end_utc), 1), else_=0)
    verdict = T.satisfaction.is_not(None)
    kept = T.excluded.is_(None)
    satisfied = T.satisfaction.in_(SATISFIED)
    return {
        "accepted": func.count(),
        "refused": flag(T.state == lc.State.REFUSED.value),
        "direct": flag(and_(T.direct_resolution.is_(True), not_refused)),
        "dispatched": flag(dispatched),
        "responded": flag(and_(dispatched, signed_in_time)),
        "not_refused": flag(not_refused),
        "completed": flag(complete),
        "due": func.sum(due),
        "on_time": func.sum(case((T.closed_on_time.is_(True), due), else_=0)),
        "called_back": flag(and_(complete, verdict)),
        "verdicts": flag(verdict),
        "satisfied": flag(satisfied),
        "kept_verdicts": flag(and_(verdict, kept)),
        "kept_satisfied": flag(and_(satisfied, kept)),
        "kept_solved": flag(and_(verdict, kept, T.solved.is_(True))),
    }


def call_sums(ctx: Context) -> dict[str, ColumnElement[Any]]:
    answered = C.answered_at.is_not(None)
    talked = and_(answered, C.ended_at.is_not(None))
    abandoned = C.outcome == "abandoned"
    arrived = C.arrived_at.is_not(None)
    wait = seconds_between(ctx.dialect, C.queued_at, C.answered_at)
    return {
        "offered": func.count(),
        "answered": flag(answered),
        "within_threshold": flag(and_(answered, wait <= ctx.service_level_seconds)),
        "abandoned": flag(abandoned),
        "short_abandoned": flag(and_(abandoned, C.ended_at.is_not(None),
                                     seconds_between(ctx.dialect, C.queued_at, C.ended_at) <= SHORT_ABANDON_SECONDS)),
        "prefilled": flag(and_(answered, C.prefill_usable.is_(True))),
        "wait_seconds": func.sum(case((answered, wait), else_=None)),
        "arrived": flag(arrived),
        "to_queue_seconds": func.sum(case((arrived, seconds_between(ctx.dialect, C.arrived_at, C.queued_at)),
                                          else_=None)),
        "talked": flag(talked),
        "talk_seconds": func.sum(case((talked, seconds_between(ctx.dialect, C.answered_at, C.ended_at)),
                                      else_=None)),
    }


Counts = dict[str, float]


def aggregate(session: Session, sums: dict[str, ColumnElement[Any]], by: Sequence[SQLColumnExpression[Any]],
              where: Iterable[ColumnElement[bool]]) -> dict[tuple[Any, ...], Counts]:
    """The one query: ``SELECT by…, sums… WHERE … GROUP BY by…`` → {group key tuple: {sum name: value}}.
    Grouping expressions are grouped by their output name, so a CASE with bound values (trend buckets)
    groups the same on PostgreSQL as a plain column."""
    labelled: list[Label[Any]] = [expr.label(f"g{i}") for i, expr in enumerate(by)]
    stmt = select(*labelled, *(expr.label(name) for name, expr in sums.items())).where(*where)
    if labelled:
        stmt = stmt.group_by(*(literal_column(f"g{i}") for i in range(len(labelled))))
    out: dict[tuple[Any, ...], Counts] = {}
    width = len(labelled)
    for row in session.execute(stmt):
        out[tuple(row[:width])] = {name: (float(value) if name.endswith("_seconds") else int(value))
                                   if value is not None else 0 for name, value in zip(sums, row[width:])}
    return out


def bucket(column: SQLColumnExpression[Any], starts: Sequence[dt.datetime]) -> ColumnElement[Any]:
    """The index of the trend bucket a timestamp falls in (buckets given by their starts, in order)."""
    if len(starts) == 1:
        return literal_column("0")
    return case(*((column < start, i) for i, start in enumerate(starts[1:])), else_=len(starts) - 1)


def add(into: Counts, more: Counts) -> Counts:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value
    return into


# ── counts → metrics ─────────────────────────────────────────────────────────────────────────────────
def ratio(num: float, den: float) -> dict[str, Any]:
    return {"num": int(num), "den": int(den), "rate": round(num / den, 6) if den else None}


def mean(total: float, n: float) -> dict[str, Any]:
    return {"seconds": round(total / n, 1) if n else None, "n": int(n)}


def metrics(counts: Counts, calls: bool = True) -> dict[str, Any]:
    """{metric: {num, den, rate}} plus the means {seconds, n}; call metrics are None where calls do not apply."""
    out: dict[str, Any] = {}
    for name, (num, den) in RATIOS.items():
        if name in CALL_METRICS and not calls:
            out[name] = None
        else:
            out[name] = ratio(counts.get(num, 0), counts.get(den, 0))
    for name, (total, n) in MEANS.items():
        out[name] = mean(counts.get(total, 0), counts.get(n, 0)) if calls else None
    return out


def call_metrics(counts: Counts) -> dict[str, Any]:
    """Only the call center's metrics (the wallboard's standard figures)."""
    every = metrics(counts)
    return {name: every[name] for name in (*CALL_METRICS, *MEANS)}


def totals_json(counts: Counts, calls: bool = True) -> dict[str, Any]:
    return {"accepted": int(counts.get("accepted", 0)), "direct": int(counts.get("direct", 0)),
            "dispatched": int(counts.get("dispatched", 0)), "refused": int(counts.get("refused", 0)),
            "offered": int(counts.get("offered", 0)), "metrics": metrics(counts, calls)}


def roll_up(index: OrgIndex, counts: dict[int | None, Counts], parent: int | None,
            top: set[int]) -> dict[int | None, Counts]:
    """Counts per node → counts per row: with a ``parent``, each of its children (its whole subtree) plus the
    parent itself (本级) for what it holds directly; without, each ``top`` node's subtree, and None for what
    is under none of them."""
    rows: dict[int | None, Counts] = {}
    row: int | None
    for node, part in counts.items():
        chain = index.chain(node) if node is not None else []
        if parent is not None:
            if parent not in chain:
                continue
            at = chain.index(parent)
            row = parent if at == 0 else chain[at - 1]
        else:
            row = next((n for n in chain if n in top), None)
        add(rows.setdefault(row, {}), part)
    return rows


# ── grouping ─────────────────────────────────────────────────────────────────────────────────────────
@dataclass
class Row:
    key: str
    name: str
    has_children: bool
    counts: Counts
    calls: bool

    def volume(self, metric: str) -> int:
        return int(self.counts.get("offered" if metric in CALL_METRICS else "accepted", 0))

    def rate(self, metric: str) -> float | None:
        num, den = RATIOS[metric]
        den_value = self.counts.get(den, 0)
        return self.counts.get(num, 0) / den_value if den_value else None




def _pick(sums: dict[str, ColumnElement[Any]], measures: Sequence[str] | None) -> dict[str, ColumnElement[Any]]:
    return sums if measures is None else {name: expr for name, expr in sums.items() if name in measures}


@dataclass
class Grouping:
    rows: list[Row]
    total: Counts      # the whole population (every group summed: one query gives the rows and the totals)
    has_calls: bool    # the calls were counted too (line, sub-platform)


def group_rows(session: Session, ctx: Context, period: Period, by: str, parent: str | None = None,
               where: Sequence[ColumnElement[bool]] = (), index: OrgIndex | None = None,
               with_calls: bool = True, measures: Sequence[str] | None = None,
               call_where: Sequence[ColumnElement[bool]] = ()) -> Grouping:
    """Rows of one grouping over the period's tickets (and calls, for line and sub-platform). ``measures``
    names the sums wanted (default all): a page that only counts tickets does not pay for the rates.
    ``where`` narrows the tickets, ``call_where`` the calls (an area's calls are those of its sub-platforms)."""
    if by not in BY:
        raise DeskError(422, "invalid_by", "分组维度只能是 承办单位、区域、分平台、热线、事项、诉求类型 或 渠道")
    population = [*ticket_population(period), *where]
    sums = _pick(ticket_sums(ctx, period), measures)
    if by in ("unit", "area"):
        index = index or OrgIndex.load(session)
        per_node: dict[int | None, Counts]
        if by == "unit":
            grouped = aggregate(session, sums, [T.host_unit_id], population)
            per_node = {key[0]: dict(part) for key, part in grouped.items()}
            roots = index.roots()
            parent_id = index.id_of(parent) if parent else (roots[0] if len(roots) == 1 else None)
            rolled = roll_up(index, per_node, parent_id, set(roots))
            rolled.pop(None, None)  # not dispatched: no unit to count it for
            kinds = None
        else:
            grouped = aggregate(session, sums, [T.location_unit_id, T.subplatform], population)
            per_node = {}
            for (location, subplatform), part in grouped.items():
                unit = location if location is not None else index.by_code.get(subplatform or "")
                add(per_node.setdefault(unit, {}), dict(part))
            parent_id = index.id_of(parent) if parent else None
            top = {n.id for n in index.nodes.values() if n.kind == "subplatform"}
            rolled = roll_up(index, per_node, parent_id, top)
            kinds = PLACE_KINDS
        rows = []
        for node_id, part in rolled.items():
            if node_id is None:
                rows.append(Row("", UNKNOWN[by], False, part, False))
                continue
            node = index.nodes[node_id]
            own = node_id == parent_id
            rows.append(Row(node.code, f"{node.name}（本级）" if own else node.name,
                            not own and index.has_children(node_id, kinds), part, False))
        return Grouping(rows, _sum(grouped.values()), False)

    column = {"subplatform": T.subplatform, "line": T.source_line, "topic": T.topic, "appeal_type": T.appeal_type,
              "channel": T.channel}[by]
    merged: dict[str, Counts] = {}
    total: Counts = {}
    for (key,), part in aggregate(session, sums, [column], population).items():
        add(merged.setdefault(key or "", {}), part)
        add(total, part)
    calls = with_calls and by in ("subplatform", "line")
    if calls:
        call_column = C.subplatform if by == "subplatform" else C.line
        for (key,), part in aggregate(session, _pick(call_sums(ctx), measures), [call_column],
                                      [*call_population(period), *call_where]).items():
            add(merged.setdefault(key or "", {}), part)
            add(total, part)
    names = name_lookup(session, ctx, by)
    return Grouping([Row(key, names.get(key, key) if key else UNKNOWN[by], False, part, calls)
                     for key, part in merged.items()], total, calls)


def _sum(parts: Iterable[Counts]) -> Counts:
    total: Counts = {}
    for part in parts:
        add(total, part)
    return total


def name_lookup(session: Session, ctx: Context, by: str) -> dict[str, str]:
    if by == "line":
        return ctx.line_names
    if by == "topic":
        return topic_names()
    if by == "appeal_type":
        return APPEAL_LABELS
    if by == "channel":
        return CHANNEL_LABELS
    if by == "subplatform":
        units = dict(session.execute(select(m.OrgUnit.code, m.OrgUnit.name).where(m.OrgUnit.kind == "subplatform"))
                     .all())   # dict(Result) would call Result.keys() (the column names)
        return units | ctx.city_names
    return {}


def rank(rows: list[Row], metric: str, min_volume: int) -> list[tuple[int | None, Row]]:
    """Rows best first by ``metric`` (competition ranking: 1, 2, 2, 4); rows below ``min_volume`` or without
    a rate are listed after the ranked ones, by volume, with rank None."""
    if metric not in METRICS:
        raise DeskError(422, "invalid_metric", "排名指标不存在")
    sign = 1 if metric in LOWER_IS_BETTER else -1
    ranked = [r for r in rows if r.volume(metric) >= min_volume and r.rate(metric) is not None]

    def rate(row: Row) -> float:
        value = row.rate(metric)
        assert value is not None  # ranked rows have a rate
        return value

    ranked.sort(key=lambda r: (sign * rate(r), -r.volume(metric), r.key))
    others = sorted((r for r in rows if r not in ranked), key=lambda r: (-r.volume(metric), r.key))
    out: list[tuple[int | None, Row]] = []
    for i, row in enumerate(ranked):
        same = i > 0 and abs(rate(row) - rate(ranked[i - 1])) < 1e-12
        out.append((out[-1][0] if same else i + 1, row))
    return out + [(None, r) for r in others]


def row_json(rank_: int | None, row: Row, metric: str) -> dict[str, Any]:
    counts = row.counts
    return {"key": row.key, "name": row.name, "has_children": row.has_children, "volume": row.volume(metric),
            "rank": rank_, "metrics": metrics(counts, row.calls),
            "accepted": int(counts.get("accepted", 0)), "direct": int(counts.get("direct", 0)),
            "dispatched": int(counts.get("dispatched", 0)), "refused": int(counts.get("refused", 0)),
            "offered": int(counts.get("offered", 0))}


# ── the whole answer of /api/kpi ─────────────────────────────────────────────────────────────────────
def totals(session: Session, ctx: Context, period: Period, where: Sequence[ColumnElement[bool]] = (),
           with_calls: bool = True, grouping: Grouping | None = None) -> dict[str, Any]:
    """Totals of the period: taken from a ``grouping`` of the same population with every measure when there
    is one (no second pass over the tickets), else counted."""
    if grouping is not None:
        counts = dict(grouping.total)
    else:
        counts = aggregate(session, ticket_sums(ctx, period), [], [*ticket_population(period), *where]).get((), {})
    if with_calls and not (grouping is not None and grouping.has_calls):
        add(counts, aggregate(session, call_sums(ctx), [], call_population(period)).get((), {}))
    return totals_json(counts, with_calls)


def call_totals(session: Session, ctx: Context, period: Period) -> dict[str, Any]:
    """The call center's figures of the period alone (the wallboard's 国标指标): one query over ``calls``."""
    counts = aggregate(session, call_sums(ctx), [], call_population(period)).get((), {})
    return {"offered": int(counts.get("offered", 0)), "metrics": call_metrics(counts)}


def unit_scope(index: OrgIndex, unit_id: int) -> list[ColumnElement[bool]]:
    """A unit user sees its own subtree only."""
    return [T.host_unit_id.in_(sorted(index.subtree(unit_id)))]


def kpi(session: Session, ctx: Context, period: Period, by: str = "unit", parent: str | None = None,
        metric: str = "satisfaction", min_volume: int = 10, scope_unit: int | None = None) -> dict[str, Any]:
    """``scope_unit``: the org unit id of a unit user; totals and rows are restricted to its subtree, a
    ``parent`` outside it is 403, and the call-center figures (not a unit's) are left out."""
    if metric not in METRICS:
        raise DeskError(422, "invalid_metric", "排名指标不存在")
    index = OrgIndex.load(session)
    where: list[ColumnElement[bool]] = []
    with_calls = scope_unit is None
    if scope_unit is not None:
        where = unit_scope(index, scope_unit)
        if parent and (parent not in index.by_code or index.by_code[parent] not in index.subtree(scope_unit)):
            raise DeskError(403, "outside_unit", "只能查看本单位及下级单位的数据")
        if by == "unit" and not parent:
            parent = index.nodes[scope_unit].code
    grouping = group_rows(session, ctx, period, by, parent, where, index, with_calls)
    return {"period": period.to_json(), "by": by, "parent": parent, "metric": metric, "min_volume": min_volume,
            "totals": totals(session, ctx, period, where, with_calls, grouping),
            "rows": [row_json(r, row, metric) for r, row in rank(grouping.rows, metric, min_volume)]}
