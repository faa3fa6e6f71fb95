"""KPIs (/api/kpi), the 观/管/评 views (/api/views/…) and the reports (/api/reports/{kind}).

Supervisors and administrators see the whole province; a unit user may read /api/kpi for its own subtree.
Common query: ``period=day|week|month|year|custom`` (default month), ``date=YYYY-MM-DD`` (default today,
province time), for custom ``start`` and ``end`` (inclusive, at most 366 days).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.supervision_schemas import (
    EvaluationReply,
    KpiReply,
    OverviewReply,
    ProcessReply,
    ReportReply,
)
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError
from agent_desk.supervision import kpi, reports, views
from agent_desk.supervision.periods import Period, period_of

router = APIRouter()
LEADERS = (Role.SUPERVISOR, Role.ADMIN)
CODE = r"^[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff-]{0,63}$"
PARENT = "下钻：上一次结果中某行的 key（单位或区域代码）；不填为最上层"
MIN_VOLUME = "参与排名的最小量（受理量，话务指标为呼入量）"


def period(period: Literal["day", "week", "month", "year", "custom"] = Query(
               "month", description="统计周期：day 日、week 周、month 月、year 年、custom 自定义"),
           date: dt.date | None = Query(None, description="周期所在的日期，默认今天（省内时间）"),
           start: dt.date | None = Query(None, description="自定义周期的第一天"),
           end: dt.date | None = Query(None, description="自定义周期的最后一天（含，最长 366 天）")) -> Period:
    return period_of(period, date, start, end)


def context(request: Request, session: Session = Depends(unit_of_work, scope="function")) -> kpi.Context:
    state = request.app.state
    return kpi.Context.of(session, state.settings, state.line_names, state.city_names)


@router.get("/kpi", summary="考核指标")
def get_kpi(by: Literal["unit", "area", "subplatform", "line", "topic", "appeal_type", "channel"] = Query(
                "unit", description="分组维度：unit 承办单位、area 区域、subplatform 分平台、line 热线号码、"
                                    "topic 诉求事项、appeal_type 诉求类型、channel 受理渠道"),
            parent: str | None = Query(None, pattern=CODE, description=PARENT),
            metric: Literal[kpi.METRICS] = Query("satisfaction", description="排名所用的指标"),  # type: ignore[valid-type]
            min_volume: int = Query(10, ge=0, le=1_000_000, description=MIN_VOLUME), when: Period = Depends(period),
            who: Principal = Depends(require(Role.SUPERVISOR, Role.ADMIN, Role.UNIT)),
            session: Session = Depends(unit_of_work, scope="function"),
            ctx: kpi.Context = Depends(context)) -> KpiReply:
    """统计周期内的考核指标合计，以及按所选维度（承办单位、区域、分平台、热线号码、诉求事项、诉求类型、受理渠道）分组、
    按所选指标排名的各行；以 `parent`（某行的 `key`）下钻到其下级。平台管理员与系统管理员查看全省；承办单位用户只能
    查看本单位及下级单位，且不含话务指标。

    周期：`period`=day|week|month|year|custom（默认 month），`date`（默认今天，省内时间）；custom 时给出
    `start`、`end`（均含，最长 366 天）。量不足 `min_volume` 的行不排名。"""
    scope = None
    if who.role == Role.UNIT:
        if who.unit_id is None:
            raise DeskError(403, "no_unit", "当前用户未关联承办单位")
        scope = who.unit_id
    return KpiReply.model_validate(kpi.kpi(session, ctx, when, by, parent, metric, min_volume, scope_unit=scope))


@router.get("/views/overview", summary="观：总量与来源")
def overview(parent: str | None = Query(None, pattern=CODE, description="下钻的区域代码"),
             when: Period = Depends(period),
             _who: Principal = Depends(require(*LEADERS)), session: Session = Depends(unit_of_work, scope="function"),
             ctx: kpi.Context = Depends(context)) -> OverviewReply:
    """大屏“观”：周期内受理与来电的合计和走势，按诉求类型、受理渠道、热线号码、区域统计的受理量，以及热点事项前 10。
    `parent`（区域代码）下钻到该区域：各项合计、走势与分布都只统计该区域（工单按所在区域，来电按所属分平台）。
    热线分布只统计电话受理的工单（各号码之和等于受理渠道中的“电话”），未记录号码的电话工单单列为“号码未记录”。"""
    return OverviewReply.model_validate(views.overview(session, ctx, when, parent))


@router.get("/views/process", summary="管：在办、超期与督办")
def process(parent: str | None = Query(None, pattern=CODE, description="下钻的承办单位代码"),
            when: Period = Depends(period),
            _who: Principal = Depends(require(*LEADERS)), session: Session = Depends(unit_of_work, scope="function"),
            ctx: kpi.Context = Depends(context)) -> ProcessReply:
    """大屏“管”：当前在办的工单（按状态、办理层级、承办单位；超期与 24 小时内到期），超期工单清单（最多 50 件，
    不含个人信息），以及周期内的退单与督办次数。`parent`（单位代码）下钻承办单位。"""
    return ProcessReply.model_validate(views.process(session, ctx, when, parent))


@router.get("/views/evaluation", summary="评：单位与区域排名")
def evaluation(by: Literal["unit", "area"] = Query("unit", description="unit 按承办单位、area 按区域"),
               parent: str | None = Query(None, pattern=CODE, description=PARENT),
               min_volume: int = Query(10, ge=0, le=1_000_000, description=MIN_VOLUME), when: Period = Depends(period),
               _who: Principal = Depends(require(*LEADERS)), session: Session = Depends(unit_of_work, scope="function"),
               ctx: kpi.Context = Depends(context)) -> EvaluationReply:
    """大屏“评”：各承办单位或区域的考核指标（按满意率排名），以及满意率、实际参评满意率、按时办结率、响应率、解决率、
    办结率各自的前 20 名。量不足 `min_volume` 的不排名。合计是所列各行之和：按承办单位的最上层另列“未派单”
    （直接办结与待派单的工单，不排名）；下钻时合计为上级单位或区域本身，不含话务指标。"""
    return EvaluationReply.model_validate(views.evaluation(session, ctx, when, by, parent, min_volume))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_FILES: dict[int | str, dict[str, Any]] = {
    200: {"description": "报表：`format=json`（默认）为 JSON；`format=csv` 为 CSV 文件（UTF-8 带 BOM，"
                         "每节一段）；`format=xlsx` 为 Excel 文件（每节一个工作表）。文件以附件下载，"
                         "文件名为报表标题。",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/reports/{kind}", response_model=ReportReply, responses=REPORT_FILES, summary="日报、周报、月报与专报")
def report(request: Request, kind: Literal["daily", "weekly", "monthly", "special"] = Path(
               ..., description="daily 日报、weekly 周报、monthly 月报、special 专报"),
           format: Literal["json", "csv", "xlsx"] = Query("json", description="json、csv 或 xlsx（以附件下载）"),
           date: dt.date | None = Query(None, description="日报、周报、月报所在的日期，默认今天（省内时间）"),
           start: dt.date | None = Query(None, description="专报的第一天"),
           end: dt.date | None = Query(None, description="专报的最后一天（含，最长 366 天）"),
           topic: str | None = Query(None, max_length=64, description="专报：诉求事项代码"),
           keyword: str | None = Query(None, min_length=1, max_length=64, description="专报：标题或内容中的关键词"),
           area: str | None = Query(None, pattern=CODE, description="专报：区域代码"),
           who: Principal = Depends(require(*LEADERS)),
           session: Session = Depends(unit_of_work, scope="function"),
           ctx: kpi.Context = Depends(context)) -> ReportReply | Response:
    """日报（`date` 所在日）、周报（所在 ISO 周）、月报（所在月），或专报（`start` 至 `end`，可按诉求事项 `topic`、
    标题或内容关键词 `keyword`、区域 `area` 筛选；筛选条件仅适用于专报）。内容：主要指标、按诉求类型、按市县、热点事项、
    承办单位排名、超期单位；不筛选时另有分热线话务，日报以外另有趋势。只含数量与比率，不含个人信息。每次生成都记入审计日志。

    `format`：json（默认）、csv 或 xlsx（以附件下载）。"""
    if kind == "special":
        when = period_of("custom", start=start, end=end)
        filters = reports.Filters(topic=topic or None, keyword=keyword or None, area=area or None)
    else:
        if topic or keyword or area:
            raise DeskError(422, "filters_special_only", "按事项、关键词或区域筛选仅适用于专报")
        when = period_of(reports.PERIOD_OF_KIND[kind], date)
        filters = reports.Filters()
    built = reports.build(session, ctx, kind, when, filters)
    audit(session, who, "report", "report", kind, f"{format} {when.label} {filters.describe()}".strip(),
          client_of(request))
    if format == "json":
        return ReportReply.model_validate(built)
    return _report_file(built, kind, format, when)


def _report_file(built: dict[str, Any], kind: str, format: str, when: Period) -> Response:
    """The report as a CSV or XLSX attachment, named by its (Chinese) title, with an ASCII fallback name."""
    body, media = (reports.to_csv(built), "text/csv; charset=utf-8") if format == "csv" else \
        (reports.to_xlsx(built), XLSX)
    filename = f"{built['title']}.{format}"
    ascii_name = f"hotline-{kind}-report-{when.start.isoformat()}.{format}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
