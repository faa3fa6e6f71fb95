"""日报 / 周报 / 月报 / 专报: the same sections for a day, a week, a month, or a custom range with filters
(topic, keyword in title or content, area), as JSON, CSV (UTF-8 with BOM, one block per section) or XLSX
(one sheet per section). Reports hold counts and rates only: no citizen's name, phone or words.

A section is ``{"title", "kind": "table"|"figures", "columns", "rows", "formats"}``. ``formats`` says how to
show a value: for a table one per column, for figures (two columns: 指标, 数值) one per row; a format is
"text", "int", "rate" (a fraction, shown as a percentage; None is "—") or "seconds".
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Session

from agent_desk.errors import DeskError
from agent_desk.exports import csv_bytes, neutralise
from agent_desk.supervision import kpi, revisits, views
from agent_desk.supervision.kpi import T, Context, OrgIndex
from agent_desk.supervision.periods import Period
from agent_desk.tickets.service import _escape_like

KINDS = ("daily", "weekly", "monthly", "special")
KIND_LABELS = {"daily": "日报", "weekly": "周报", "monthly": "月报", "special": "专报"}
PERIOD_OF_KIND = {"daily": "day", "weekly": "week", "monthly": "month"}
TOP_TOPICS = 10
TOP_OVERDUE_UNITS = 20
DASH = "—"


@dataclass(frozen=True)
class Filters:
    """What a special report (专报) is about; empty for the periodic reports."""

    topic: str | None = None
    keyword: str | None = None
    area: str | None = None

    def __bool__(self) -> bool:
        return bool(self.topic or self.keyword or self.area)

    def describe(self) -> str:
        parts = [f"topic={self.topic}" if self.topic else "", f"keyword={self.keyword}" if self.keyword else "",
                 f"area={self.area}" if self.area else ""]
        return " ".join(p for p in parts if p)

    def where(self, index: OrgIndex) -> list[ColumnElement]:
        out: list[ColumnElement] = []
        if self.topic:
            out.append(T.topic == self.topic)
        if self.keyword:
            like = f"%{_escape_like(self.keyword)}%"
            out.append(or_(T.title.like(like, escape="\\"), T.content.like(like, escape="\\")))
        if self.area:
            area_id = index.id_of(self.area)
            places: ColumnElement[bool] = T.location_unit_id.in_(sorted(index.subtree(area_id)))
            node = index.nodes[area_id]
            if node.kind == "subplatform":  # tickets placed only by their sub-platform belong to it too
                places = or_(places, and_(T.location_unit_id.is_(None), T.subplatform == node.subplatform))
            out.append(places)
        return out


def _province_name(index: OrgIndex) -> str:
    roots = index.roots()
    if len(roots) == 1:
        return index.nodes[roots[0]].name.removesuffix("平台")
    return "12345热线"


def _rate(counts: kpi.Counts, metric: str) -> float | None:
    num, den = kpi.RATIOS[metric]
    return kpi.ratio(counts.get(num, 0), counts.get(den, 0))["rate"]


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def _table(title: str, columns: Sequence[str], formats: Sequence[str], rows: list[list]) -> dict[str, Any]:
    return {"title": title, "kind": "table", "columns": list(columns), "formats": list(formats), "rows": rows}


def service_level_name(ctx: Context) -> str:
    return f"{kpi.METRIC_LABELS['service_level']}（{ctx.service_level_seconds}秒内接通）"


def call_figures(ctx: Context, totals: dict[str, Any]) -> list[list[Any]]:
    """The call center's key figures (GB/T 33358, issue 12), as [name, value, format] rows."""
    metrics, label = totals["metrics"], kpi.METRIC_LABELS
    return [[kpi.COUNT_LABELS["offered"], totals["offered"], "int"],
            [label["answer"], metrics["answer"]["rate"], "rate"],
            [service_level_name(ctx), metrics["service_level"]["rate"], "rate"],
            [label["short_abandon"], metrics["short_abandon"]["rate"], "rate"],
            [f"{label['wait']}（秒）", metrics["wait"]["seconds"], "seconds"],
            [f"{label['to_queue']}（秒）", metrics["to_queue"]["seconds"], "seconds"],
            [label["prefill"], metrics["prefill"]["rate"], "rate"]]


def answer_chart(ctx: Context, counts: kpi.Counts) -> dict[str, Any]:
    """How the offered calls ended: answered within the threshold, answered later, abandoned (the short
    abandons apart), other (ended in the queue some other way, e.g. the queue's own timeout)."""
    offered, answered = int(counts.get("offered", 0)), int(counts.get("answered", 0))
    within, abandoned = int(counts.get("within_threshold", 0)), int(counts.get("abandoned", 0))
    short = int(counts.get("short_abandoned", 0))
    n = ctx.service_level_seconds
    parts = [(f"{n}秒内接通", within), (f"{n}秒后接通", answered - within),
             (f"{kpi.SHORT_ABANDON_SECONDS}秒内放弃", short), ("其余放弃", abandoned - short),
             ("其他未接通", max(0, offered - answered - abandoned))]
    return {"title": "来电接通情况", "type": "donut", "labels": [name for name, _ in parts],
            "series": [{"name": kpi.COUNT_LABELS["offered"], "values": [value for _, value in parts]}]}


def build(session: Session, ctx: Context, kind: str, period: Period, filters: Filters = Filters()) -> dict[str, Any]:
    if kind not in KINDS:
        raise DeskError(422, "invalid_report", "报表类型只能是 日报、周报、月报 或 专报")
    index = OrgIndex.load(session)
    where = filters.where(index)
    calls = not filters
    topic_names = kpi.topic_names()
    heading = KIND_LABELS[kind]
    if filters.topic:
        heading += f"·{topic_names.get(filters.topic, filters.topic)}"
    if filters.area:
        heading += f"·{index.nodes[index.by_code[filters.area]].name}"
    if filters.keyword:
        heading += f"·“{filters.keyword}”"
    title = f"{_province_name(index)}{heading}（{period.label}）"

    def group(by: str, **kw) -> kpi.Grouping:
        return kpi.group_rows(session, ctx, period, by, where=where, index=index, with_calls=calls, **kw)

    def rows(by: str, **kw) -> list[kpi.Row]:
        return group(by, **kw).rows

    lines = group("line")  # every measure, tickets and calls: the totals are its sum
    totals = kpi.totals(session, ctx, period, where, calls, lines)
    metrics = totals["metrics"]
    accepted = totals["accepted"]
    rate = lambda name: metrics[name]["rate"] if metrics.get(name) else None  # noqa: E731
    figures = [["受理量", accepted, "int"], ["直接办结", totals["direct"], "int"],
               ["派单", totals["dispatched"], "int"],
               ["不予受理", totals["refused"], "int"], ["办结率", rate("completion"), "rate"],
               ["按时办结率", rate("on_time"), "rate"], ["满意率", rate("satisfaction"), "rate"],
               ["实际参评满意率", rate("effective_satisfaction"), "rate"], ["响应率", rate("response"), "rate"],
               ["解决率", rate("resolution"), "rate"]]
    if calls:
        figures += call_figures(ctx, totals)
    sections = [{"title": "主要指标", "kind": "figures", "columns": ["指标", "数值"],
                 "formats": [f for _, _, f in figures], "rows": [[name, value] for name, value, _ in figures]}]

    by_type = sorted(rows("appeal_type", measures=("accepted", "completed", "not_refused", "satisfied", "verdicts")),
                     key=lambda r: -r.counts.get("accepted", 0))
    sections.append(_table("按诉求类型", ["诉求类型", "受理量", "占比", "办结率", "满意率"],
                           ["text", "int", "rate", "rate", "rate"],
                           [[r.name, int(r.counts["accepted"]), _share(r.counts["accepted"], accepted),
                             _rate(r.counts, "completion"), _rate(r.counts, "satisfaction")] for r in by_type]))

    areas = sorted(rows("area"), key=lambda r: (-r.counts.get("accepted", 0), r.key))
    sections.append(_table("按市县",
                           ["市县", "受理量", "直接办结", "派单", "办结率", "按时办结率", "满意率", "实际参评满意率"],
                           ["text", "int", "int", "int", "rate", "rate", "rate", "rate"],
                           [[r.name, int(r.counts["accepted"]), int(r.counts["direct"]), int(r.counts["dispatched"]),
                             _rate(r.counts, "completion"), _rate(r.counts, "on_time"),
                             _rate(r.counts, "satisfaction"), _rate(r.counts, "effective_satisfaction")]
                            for r in areas]))

    topics = sorted(rows("topic", measures=("accepted",)), key=lambda r: (-r.counts.get("accepted", 0), r.key))
    sections.append(_table(f"热点事项（前{TOP_TOPICS}）", ["排名", "事项", "受理量", "占比"],
                           ["int", "text", "int", "rate"],
                           [[i + 1, r.name, int(r.counts["accepted"]), _share(r.counts["accepted"], accepted)]
                            for i, r in enumerate(topics[:TOP_TOPICS])]))

    units = kpi.rank(rows("unit"), "satisfaction", 10)
    sections.append(_table("承办单位排名（按满意率，受理量不足10件不排名）",
                           ["排名", "承办单位", "受理量", "响应率", "按时办结率", "满意率", "实际参评满意率"],
                           ["int", "text", "int", "rate", "rate", "rate", "rate"],
                           [[r if r is not None else DASH, row.name, int(row.counts["accepted"]),
                             _rate(row.counts, "response"), _rate(row.counts, "on_time"),
                             _rate(row.counts, "satisfaction"), _rate(row.counts, "effective_satisfaction")]
                            for r, row in units]))

    due_sums = {name: expr for name, expr in kpi.ticket_sums(ctx, period).items() if name in ("due", "on_time")}
    late = kpi.aggregate(session, due_sums, [T.__table__.c.host_unit_id],
                         [*kpi.ticket_population(period), *where, T.host_unit_id.is_not(None)])
    overdue = sorted(((index.nodes[uid].name, c["due"], c["on_time"]) for (uid,), c in late.items()
                      if uid in index.nodes and c["due"] > c["on_time"]), key=lambda x: (-(x[1] - x[2]), x[0]))
    sections.append(_table("超期单位（应办结而未按时办结）", ["承办单位", "应办结", "按时办结", "超期", "按时办结率"],
                           ["text", "int", "int", "int", "rate"],
                           [[name, due, on_time, due - on_time, _share(on_time, due)]
                            for name, due, on_time in overdue[:TOP_OVERDUE_UNITS]]))

    charts = [{"title": "诉求类型分布", "type": "donut", "labels": [r.name for r in by_type],
               "series": [{"name": "受理量", "values": [int(r.counts["accepted"]) for r in by_type]}]},
              {"title": "各市县受理量", "type": "bars", "labels": [r.name for r in areas],
               "series": [{"name": "受理量", "values": [int(r.counts["accepted"]) for r in areas]}]}]

    if calls:
        by_line = sorted((r for r in lines.rows if r.counts.get("offered")),
                         key=lambda r: (-r.counts.get("offered", 0), r.key))
        label = kpi.METRIC_LABELS
        sections.append(_table("分热线话务",
                               ["热线", "号码", kpi.COUNT_LABELS["offered"], kpi.COUNT_LABELS["answered"],
                                label["answer"], service_level_name(ctx), label["abandon"], label["prefill"],
                                f"{label['wait']}（秒）", f"{label['aht']}（秒）"],
                               ["text", "text", "int", "int", "rate", "rate", "rate", "rate", "seconds", "seconds"],
                               [[r.name, r.key, int(r.counts["offered"]), int(r.counts["answered"]),
                                 _rate(r.counts, "answer"), _rate(r.counts, "service_level"),
                                 _rate(r.counts, "abandon"), _rate(r.counts, "prefill"),
                                 kpi.metrics(r.counts)["wait"]["seconds"], kpi.metrics(r.counts)["aht"]["seconds"]]
                                for r in by_line]))
        charts.append(answer_chart(ctx, lines.total))

    revisit_sections, revisit_chart = revisit_report(session, ctx, period, where, calls)
    sections += revisit_sections
    charts.append(revisit_chart)

    if kind != "daily":
        trend = views.trend(session, period, where)
        sections.append(_table("每日趋势" if period.days <= 62 else "每月趋势", ["日期", "受理量", "呼入量", "接通量"],
                               ["text", "int", "int", "int"],
                               [list(x) for x in zip(trend["labels"], trend["accepted"], trend["offered"],
                                                     trend["answered"])]))
        charts.append({"title": "受理量与来电量趋势", "type": "line", "labels": trend["labels"],
                       "series": [{"name": "受理量", "values": trend["accepted"]}]
                       + ([{"name": "呼入量", "values": trend["offered"]},
                           {"name": "接通量", "values": trend["answered"]}] if calls else [])})
    return {"title": title, "kind": kind, "period": period.to_json(), "filters": {
        "topic": filters.topic, "keyword": filters.keyword, "area": filters.area},
        "sections": sections, "charts": charts}


def revisit_report(session: Session, ctx: Context, period: Period, where: Sequence[ColumnElement],
                   with_coverage: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """未接来电回拨 coverage (not in a filtered special report: missed calls have no topic or place) and 回访 by
    unit (``supervision.revisits``): figures, a table and the verdict mix as a stacked bar chart."""
    found = revisits.figures(session, period, ctx.callbacks, where, with_coverage)
    total, cover = found.total, found.coverage
    rows: list[list[Any]] = []
    formats: list[str] = []
    if with_coverage:
        rows += [["有未接来电的来电人", cover["tasks"]], ["未接来电", cover["missed_calls"]],
                 ["已回拨联系上", cover["contacted"]],
                 [f"时限内联系上（{cover['target_minutes']}分钟）", cover["contacted_within_target"]],
                 ["未接来电回拨率（时限内）", cover["rate"]]]
        formats += ["int", "int", "int", "int", "rate"]
    verdicts = dict(revisits.VERDICT_SERIES)
    rows += [["进入待回访", total.reached], ["已回访", total.verdicts], ["回访率", total.rate],
             *[[verdicts[key], getattr(total, key)] for key in ("satisfied", "basically_satisfied", "unsatisfied")],
             ["已解决", total.solved], ["未解决", total.unsolved]]
    formats += ["int", "int", "rate", "int", "int", "int", "int", "int"]
    sections = [{"title": "回拨与回访", "kind": "figures", "columns": ["指标", "数值"], "formats": formats,
                 "rows": rows},
                _table("回访情况（按承办单位）",
                       ["承办单位", "进入待回访", "已回访", "回访率", verdicts["satisfied"],
                        verdicts["basically_satisfied"], verdicts["unsatisfied"], "已解决", "未解决", "回访满意率"],
                       ["text", "int", "int", "rate", "int", "int", "int", "int", "int", "rate"],
                       [[u.name, u.reached, u.verdicts, u.rate, u.satisfied, u.basically_satisfied, u.unsatisfied,
                         u.solved, u.unsolved, u.satisfaction] for u in found.units])]
    chart = {"title": "回访结果（按承办单位）", "type": "stacked", "labels": [u.name for u in found.units],
             "series": [{"name": name, "values": [getattr(u, key) for u in found.units]}
                        for key, name in revisits.VERDICT_SERIES]}
    return sections, chart


# ── files ────────────────────────────────────────────────────────────────────────────────────────────
def _formats(section: dict) -> list[list[str]]:
    """The format of every cell of the section's rows."""
    if section["kind"] == "figures":
        return [["text", f] for f in section["formats"]]
    return [section["formats"] for _ in section["rows"]]


def _text(value: Any, fmt: str) -> str:
    if value is None:
        return DASH
    if fmt == "rate" and isinstance(value, (int, float)):
        return f"{value * 100:.2f}%"
    if fmt == "seconds" and isinstance(value, (int, float)):
        return f"{value:.1f}"
    return str(value)


def to_csv(report: dict) -> bytes:
    """The title, then one block per section; free text never as a formula (``agent_desk.exports``)."""
    lines: list[list[Any]] = [[report["title"]]]
    for section in report["sections"]:
        lines += [[], [section["title"]], section["columns"]]
        lines += [[_text(v, f) for v, f in zip(row, formats)]
                  for row, formats in zip(section["rows"], _formats(section))]
    return csv_bytes(lines)


def _sheet_name(title: str, taken: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in '[]:*?/\\').split("（")[0][:28] or "Sheet"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def _width(value: Any) -> int:
    text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def to_xlsx(report: dict) -> bytes:
    """One sheet per section: header row bold, column widths set, rates as percentages, "—" for no value."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for section in report["sections"]:
        sheet = book.create_sheet(_sheet_name(section["title"], taken))
        sheet.append([neutralise(c) for c in section["columns"]])
        for cell in sheet[1]:
            cell.font = bold
        widths = [_width(c) for c in section["columns"]]
        for r, (row, formats) in enumerate(zip(section["rows"], _formats(section)), start=2):
            for c, (value, fmt) in enumerate(zip(row, formats), start=1):
                cell = sheet.cell(row=r, column=c, value=DASH if value is None else neutralise(value))
                if value is not None and fmt == "rate":
                    cell.number_format = "0.00%"
                elif value is not None and fmt == "seconds":
                    cell.number_format = "0.0"
                widths[c - 1] = max(widths[c - 1], _width(_text(value, fmt)))
        for c, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(c)].width = min(60, width + 4)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.properties.title = str(neutralise(report["title"]))
    book.save(out)
    return out.getvalue()
