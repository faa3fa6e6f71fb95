"""Suggestions for the ticket being written (top-3 topics and host units), the record of what the agent chose,
and the acceptance rate supervisors read. Logic in ``agent_desk.suggestions``; these routes only translate.

The text sent is case data (the citizen's words): each request is written to the audit log with the call it
belongs to and the text's length, never the text itself (the audit log must not become a second copy of it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Body, Reply
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError
from agent_desk.suggestions import outcomes, service
from agent_desk.supervision.periods import today
from agent_desk.text import ONE_LINE
from hotline.paths import Paths

router = APIRouter(prefix="/suggestions")
STAFF = (Role.AGENT, Role.SUPERVISOR)
# Codes of the org tree and topics.yaml (460100, 460100-长流镇, 03-water): anything else is refused before it reaches
# a query (a NUL byte, which PostgreSQL refuses, would otherwise be a 500).
CODE = r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$"
LONGEST_REPORT = dt.timedelta(days=366)
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)   # beyond: a typo, and date arithmetic overflows


class SuggestionQuery(Body):
    text: str = Field("", max_length=20_000, description="目前的诉求描述：表单内容或通话转写；可为空")
    subplatform: str | None = Field(None, pattern=CODE, description="市县分平台代码（如 460100）")
    county: str | None = Field(None, pattern=CODE, description="区县代码（组织机构树）")
    town: str | None = Field(None, pattern=CODE, description="乡镇代码（组织机构树）")
    line: str | None = Field(None, pattern=r"^\d{3,8}$", description="呼入热线号码")
    topic: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.\-]*$",
                       description="表单上已选的业务分类：派单目录按它建议单位")
    call_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._\-]{1,64}$", description="所属通话（记入审计日志）")


class SuggestedTopic(Reply):
    code: str = Field(description="业务分类代码")
    name: str
    confidence: float | None = Field(description="模型置信度（0～1）；仅规则、模型未排到时为 null")
    rule: bool = Field(description="true：规则（分类关键词）命中，排在前面")
    reasons: list[str] = Field(description="依据的词：规则命中的关键词，或模型最看重的词")
    why: str = Field(description="中文理由")


class SuggestedUnit(SuggestedTopic):
    id: int | None = Field(description="单位 id")
    code: str = Field(description="单位代码（组织机构树）")
    rule: bool = Field(description="true：直派清单或派单目录命中，排在前面")


class Suggestions(Reply):
    source: Literal["model", "rules"] = Field(description="model：学习模型参与排序；rules：仅按规则")
    model_version: str = Field(description="所用模型的版本；仅规则时为空")
    topics: list[SuggestedTopic] = Field(description="建议的业务分类，最多 3 个，规则在前")
    units: list[SuggestedUnit] = Field(description="建议的承办单位，最多 3 个，规则在前；只含在用单位")
    notes: list[str] = Field(description="给坐席的中文提示（描述太短、地点未知、模型不可用等）")


class ShownItem(Body):
    code: str = Field(..., pattern=CODE)
    confidence: float | None = Field(None, ge=0, le=1)
    rule: bool = False


class OutcomeRecord(Body):
    ticket: str = Field(..., pattern=r"^\d{14}$", description="刚保存的工单编号（本人受理）")
    source: str = Field(..., max_length=16, pattern=ONE_LINE, description="建议来源：model 或 rules")
    model_version: str = Field("", max_length=64, pattern=ONE_LINE)
    topics: list[ShownItem] = Field(default_factory=list, max_length=10, description="保存时显示的分类建议，最好的在前")
    units: list[ShownItem] = Field(default_factory=list, max_length=10, description="保存时显示的单位建议，最好的在前")
    unit_chosen: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.\-\u4e00-\u9fff]*$",
                             description="表单上拟派承办单位的代码（采用建议时）；空表示未选")


class OutcomeReply(Reply):
    recorded: bool = Field(description="是否新记录（已记录过的工单不重复记录）")
    topic_outcome: str = Field(description="分类：top1 采纳第一建议 / other 采纳其他建议 / overridden 改选 / none 未选 "
                                           "/ unshown 无建议")
    unit_outcome: str = Field(description="单位：同上")
    warnings: list[str] = Field(description="被舍弃的内容（不存在或已撤销的代码等），中文")


class AcceptanceRate(Reply):
    decided: int = Field(description="坐席作出选择的工单数")
    top1: int
    other: int
    overridden: int
    none: int = Field(description="未选择（不计入比率）")
    top1_rate: float | None = Field(description="采纳第一建议的比例")
    top3_rate: float | None = Field(description="采纳前三建议之一的比例")


class AcceptanceBucket(Reply):
    start: str = Field(description="该日（或该周周一）的日期")
    topics: AcceptanceRate
    units: AcceptanceRate


class AcceptanceTotals(Reply):
    topics: AcceptanceRate
    units: AcceptanceRate


class AcceptanceBy(AcceptanceRate):
    code: str = Field(description="建议的第一分类（或第一单位）代码")
    name: str


class Acceptance(Reply):
    period: Literal["day", "week"]
    start: str
    end: str
    tickets: int = Field(description="有建议记录的工单数")
    changed_after_save: int = Field(description="保存后承办单位被改派（退回后改派等）的工单数")
    totals: AcceptanceTotals
    series: list[AcceptanceBucket]
    by_topic: list[AcceptanceBy]
    by_unit: list[AcceptanceBy]


def models(request: Request) -> service.ModelSource:
    """The models in use: in the settings' ``suggest_models`` folder, else ``Paths.suggest_models`` (the same
    default training writes to); or the source the app was given (tests)."""
    source = getattr(request.app.state, "suggestion_models", None)
    if source is None:
        folder = request.app.state.settings.suggest_models
        source = service.CurrentModels(Path(folder) if folder else Paths.from_env().suggest_models)
        request.app.state.suggestion_models = source
    return source


@router.post("", summary="分类与承办单位建议")
def suggest(query: SuggestionQuery, request: Request, who: Principal = Depends(require(*STAFF)),
            session: Session = Depends(unit_of_work, scope="function"),
            source: service.ModelSource = Depends(models)) -> Suggestions:
    """按目前的描述（表单或通话转写）、地点和热线，给出最多 3 个业务分类和 3 个承办单位，各带置信度和理由。
    规则（直派清单、派单目录、分类关键词）命中的排在前面并标明；学习模型在规则之内和之外排序。没有可用模型时仅按
    规则（source=rules）。已撤销的单位、已删除的分类不会出现。每次请求记入审计日志（不含描述原文）。"""
    answer = service.suggest(session, source, query.text,
                             service.Place(query.subplatform, query.county, query.town, query.line), query.topic)
    audit(session, who, "suggest", "call" if query.call_id else "suggestion", query.call_id or "-",
          f"字数={len(query.text)} 来源={answer.source}", client_of(request))
    return Suggestions(
        source=answer.source, model_version=answer.model_version, notes=answer.notes,
        topics=[SuggestedTopic(code=i.code, name=i.name, confidence=i.confidence, rule=i.rule,
                                reasons=list(i.reasons), why=i.why) for i in answer.topics],
        units=[SuggestedUnit(id=i.id, code=i.code, name=i.name, confidence=i.confidence, rule=i.rule,
                              reasons=list(i.reasons), why=i.why) for i in answer.units])


@router.post("/outcomes", summary="记录建议采纳情况")
def record_outcome(body: OutcomeRecord, who: Principal = Depends(require(*STAFF)),
                   session: Session = Depends(unit_of_work, scope="function")) -> OutcomeReply:
    """坐席保存工单后调用：保存时显示的建议，以及坐席的选择（分类取自已保存的工单）。不存在或已撤销的代码被舍弃并在
    warnings 中说明；同一工单只记录一次。工单的保存不依赖此记录。"""
    shown = [[outcomes.Shown(i.code, i.confidence, i.rule) for i in items] for items in (body.topics, body.units)]
    result = outcomes.record(session, who, body.ticket, body.source, body.model_version, shown[0], shown[1],
                             body.unit_chosen)
    return OutcomeReply(recorded=result.recorded, topic_outcome=result.topic_outcome,
                        unit_outcome=result.unit_outcome, warnings=result.warnings)


@router.get("/acceptance", summary="建议采纳率")
def acceptance(start: dt.date | None = Query(None, description="起始日期，默认截止日期前 29 天"),
               end: dt.date | None = Query(None, description="截止日期（含），默认今天"),
               period: Literal["day", "week"] = Query("day", description="按日或按周"),
               _who: Principal = Depends(require(Role.SUPERVISOR)),
               session: Session = Depends(unit_of_work, scope="function")) -> Acceptance:
    """按建议的第一分类、第一承办单位统计坐席采纳建议的比例，并按日或按周给出趋势。单位以派单后（含退回改派）的
    主办单位为准，未派单时以保存时表单上的拟派单位为准。"""
    end = end or today()
    if not FIRST_DAY <= end <= LAST_DAY or (start is not None and not FIRST_DAY <= start <= LAST_DAY):
        raise DeskError(422, "invalid_period", f"日期须在 {FIRST_DAY} 至 {LAST_DAY} 之间")
    start = start or end - dt.timedelta(days=29)
    if start > end:
        raise DeskError(422, "invalid_period", "起始日期不能晚于截止日期")
    if end - start > LONGEST_REPORT:
        raise DeskError(422, "invalid_period", "统计区间最长一年")
    return Acceptance.model_validate(outcomes.acceptance(session, start, end, period))
