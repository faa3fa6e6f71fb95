"""KPIs (/api/kpi), the 观/管/评 views (/api/views/…) and the reports (/api/reports/{kind}).

Supervisors and administrators see the whole province; a unit user may read /api/kpi for its own subtree.
Common query: ``period=day|week|month|year|custom`` (default month), ``date=YYYY-MM-DD`` (default today,
province time), for custom ``start`` and ``end`` (inclusive, at most 366 days).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError
from agent_desk.supervision import kpi, reports, views
from agent_desk.supervision.periods import Period, period_of

router = APIRouter()
LEADERS = (Role.SUPERVISOR, Role.ADMIN)
CODE = r"^[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff-]{0,63}$"


def period(period: Literal["day", "week", "month", "year", "custom"] = Query("month"),
           date: dt.date | None = Query(None), start: dt.date | None = Query(None),
           end: dt.date | None = Query(None)) -> Period:
    return period_of(period, date, start, end)


def context(request: Request, session: Session = Depends(unit_of_work, scope="function")) -> kpi.Context:
    state = request.app.state
    return kpi.Context.of(session, state.settings, state.line_names, state.city_names)


@router.get("/kpi")
def get_kpi(by: Literal["unit", "area", "subplatform", "line", "topic", "appeal_type", "channel"] = Query("unit"),
            parent: str | None = Query(None, pattern=CODE),
            metric: Literal[kpi.METRICS] = Query("satisfaction"),  # type: ignore[valid-type]
            min_volume: int = Query(10, ge=0, le=1_000_000), when: Period = Depends(period),
            who: Principal = Depends(require(Role.SUPERVISOR, Role.ADMIN, Role.UNIT)),
            session: Session = Depends(unit_of_work, scope="function"), ctx: kpi.Context = Depends(context)) -> dict:
    scope = None
    if who.role == Role.UNIT:
        if who.unit_id is None:
            raise DeskError(403, "no_unit", "当前用户未关联承办单位")
        scope = who.unit_id
    return kpi.kpi(session, ctx, when, by, parent, metric, min_volume, scope_unit=scope)


@router.get("/views/overview")
def overview(parent: str | None = Query(None, pattern=CODE), when: Period = Depends(period),
             _who: Principal = Depends(require(*LEADERS)), session: Session = Depends(unit_of_work, scope="function"),
             ctx: kpi.Context = Depends(context)) -> dict:
    return views.overview(session, ctx, when, parent)


@router.get("/views/process")
def process(parent: str | None = Query(None, pattern=CODE), when: Period = Depends(period),
            _who: Principal = Depends(require(*LEADERS)), session: Session = Depends(unit_of_work, scope="function"),
            ctx: kpi.Context = Depends(context)) -> dict:
    return views.process(session, ctx, when, parent)


@router.get("/views/evaluation")
def evaluation(by: Literal["unit", "area"] = Query("unit"), parent: str | None = Query(None, pattern=CODE),
               min_volume: int = Query(10, ge=0, le=1_000_000), when: Period = Depends(period),
               _who: Principal = Depends(require(*LEADERS)), session: Session = Depends(unit_of_work, scope="function"),
               ctx: kpi.Context = Depends(context)) -> dict:
    return views.evaluation(session, ctx, when, by, parent, min_volume)


@router.get("/reports/{kind}", response_model=None)
def report(request: Request, kind: Literal["daily", "weekly", "monthly", "special"] = Path(...),
           format: Literal["json", "csv", "xlsx"] = Query("json"), date: dt.date | None = Query(None),
           start: dt.date | None = Query(None), end: dt.date | None = Query(None),
           topic: str | None = Query(None, max_length=64), keyword: str | None = Query(None, min_length=1, max_length=64),
           area: str | None = Query(None, pattern=CODE), who: Principal = Depends(require(*LEADERS)),
           session: Session = Depends(unit_of_work, scope="function"), ctx: kpi.Context = Depends(context)) -> dict | Response:
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
        return built
    body, media = (reports.to_csv(built), "text/csv; charset=utf-8") if format == "csv" else \
        (reports.to_xlsx(built), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    filename = f"{built['title']}.{format}"
    ascii_name = f"hotline-{kind}-report-{when.start.isoformat()}.{format}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
