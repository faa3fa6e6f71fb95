"""Tickets: create (any channel), search, read, and one endpoint per lifecycle action (typed body each)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, principal, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.auth.sessions import Principal
from agent_desk.names import Names, queue_names, topic_name
from agent_desk.tickets import duplicates, lifecycle as lc
from agent_desk.tickets import service
from agent_desk.tickets.service import SearchQuery, TicketDraft

router = APIRouter(prefix="/tickets")
NUMBER = Path(..., pattern=r"^\d{14}$", description="工单编号：受理日期 YYYYMMDD + 6 位序号")


class Created(Reply):
    created: bool = Field(description="true：新建了工单；false：同一诉求已有工单，本次关联到该工单")
    number: str | None = Field(None, description="新工单的编号")
    state: str | None = Field(None, description="新工单的状态（已受理）")
    linked_to: str | None = Field(None, description="关联到的已有工单编号")
    message: str | None = Field(None, description="关联时的中文说明")
    merged_into: str | None = Field(None, description="并单：新工单已并入的主工单编号")
    merge_error: str | None = Field(None, description="要求并单但未能并单的中文原因（工单已照常受理）")


class TicketSummary(Reply):
    """列表中的一张工单：联系方式一律脱敏。"""

    number: str
    title: str
    appeal_type: str = Field(description="诉求类型代码（词表 appeal_types）")
    appeal_label: str
    topic: str = Field(description="业务分类代码（派单目录）；空表示未分类")
    topic_name: str | None = Field(None, description="业务分类名称；未分类为 null")
    state: str = Field(description="状态代码（词表 ticket_states）")
    state_label: str
    source_line: str | None = Field(description="来电热线号码（电话渠道）")
    subplatform: str | None = Field(description="市县分平台代码")
    subplatform_name: str | None = Field(None, description="所属市县名称（例如 琼海市）")
    channel_label: str
    citizen_name: str
    citizen_phone: str
    contact_masked: bool = Field(description="姓名和电话是否已脱敏")
    host_unit_name: str | None
    created_at: str = Field(description="受理时间（ISO 8601）")
    due_at: str | None = Field(description="办理时限（ISO 8601）")
    overdue: bool = Field(description="承办期间已超过办理时限")


class SearchItem(TicketSummary):
    id: int = Field(description="翻页用：下一页传 before_id")


class SearchPage(Reply):
    items: list[SearchItem]
    next_before_id: int | None = Field(description="还有下一页时，下一页的 before_id")


class HistoryEntry(Reply):
    seq: int
    at: str
    actor: str = Field(description="办理人（用户名或 system）")
    actor_name: str = Field("", description="办理人姓名（system 为“系统”）")
    role: str
    action: str = Field(description="操作代码（词表 actions）")
    action_label: str
    from_state: str | None
    to_state: str
    data: dict[str, Any] = Field(description="操作的说明字段（词表 event_fields 给出中文名）")
    text: str = Field("", description="说明字段的中文表述，单位、分类、知识条目等均以名称给出")


class TicketDetail(TicketSummary):
    """一张工单的全部内容和办理记录（按“需要才知道”原则提供，读取留痕）。"""

    occurred: str
    location: str
    location_unit: str | None = Field(description="地点所在单位代码（市县、区、镇）；未选为空")
    location_unit_name: str | None
    content: str
    demand: str
    confidential: bool = Field(description="保密工单")
    urgency: str = Field(description="紧急程度代码（词表 urgency）")
    channel: str = Field(description="受理渠道代码（词表 channels）")
    call_id: str | None
    recording: str | None
    recording_fault: str | None = Field(description="录音故障：failed 录音失败（没有录音）、"
                                                    "interrupted 录音中断（录音不完整）；没有故障为 null")
    host_unit: str | None = Field(description="主办单位代码")
    co_units: list[str] = Field(description="协办单位代码")
    co_unit_names: list[str]
    level: str = Field(description="处理层级代码（词表 levels）")
    satisfaction: str | None
    solved: bool | None
    excluded: bool | None
    exclusion_basis: str
    refusal: str | None
    final_opinion: str
    closed_on_time: bool | None
    supervisions: int
    returns: int
    history: list[HistoryEntry]
    allowed_actions: list[str] = Field(description="当前用户现在可以尝试的操作代码")
    merged_into: str | None = Field(description="并单：本工单已并入的主工单编号（随主工单办理）")
    merged_tickets: list[str] = Field(description="并单：并入本工单的工单编号")
    access_reason: str = Field(description="本次可以查看的理由代码")
    access_reason_label: str


class ActionResult(Reply):
    number: str
    state: str = Field(description="操作后的状态代码")


@router.post("", status_code=201, summary="受理工单（任何渠道）", response_model_exclude_none=True)
def create(draft: TicketDraft, request: Request, who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> Created:
    """话务员、平台人员登记工单；渠道接入账号登记网站、微信、短信、电子邮件、移动端的诉求。同一市民就已有最终处理意见
    的同一诉求再次来电时，不新建工单，而是关联到原工单（created=false）。"""
    result = service.create(session, who, draft)
    request.state.changed = [result.ticket.number]
    if not result.created:
        why = "该诉求已有最终处理意见" if result.ticket.final_opinion else "来电已关联至未办结工单"
        return Created(created=False, linked_to=result.linked_to,
                       message=f"{why}，已关联至工单{result.linked_to}")
    return Created(created=True, number=result.ticket.number, state=result.ticket.state,
                   merged_into=result.merged_into, merge_error=result.merge_error)


class DuplicateCandidate(Reply):
    """一张可能重复的在办工单：只给出判断是否并单所需的内容，联系方式脱敏。"""

    number: str
    title: str
    place: str | None = Field(description="所在区县、镇街")
    location: str = Field(description="地点（门牌等数字已隐去）")
    created_at: str = Field(description="受理时间（ISO 8601）")
    state: str = Field(description="状态代码（词表 ticket_states）")
    state_label: str
    score: float = Field(description="内容相似度（0–1）")
    reasons: list[str] = Field(description="两份诉求共有的关键词语")
    citizen_name: str
    citizen_phone: str
    contact_masked: bool


class Duplicates(Reply):
    items: list[DuplicateCandidate] = Field(description="最相似的在前")
    place_known: bool = Field(description="是否有地点可供比对（没有地点不查找）")
    window_days: int = Field(description="只比对这么多天内受理的工单")
    note: str | None = Field(description="没有查找时的中文说明")


@router.post("/duplicates", summary="可能重复的诉求（并单候选）")
def find_duplicates(query: duplicates.DuplicateQuery, request: Request, who: Principal = Depends(principal),
                    session: Session = Depends(unit_of_work, scope="function")) -> Duplicates:
    """保存新工单前，按地点相同、时间相近、内容相似，列出可以并单的在办工单（任何来电人）。仅话务员和平台人员；
    每次查找都记入审计日志（列出的工单编号和理由）。不保存任何内容。"""
    return Duplicates.model_validate(duplicates.find(session, who, query, client_of(request)))


@router.get("", summary="查询工单")
def search(request: Request, query: SearchQuery = Depends(), who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> SearchPage:
    """最新的在前，按 before_id 翻页；联系方式一律脱敏；只返回当前用户按“需要才知道”原则可以查看的工单。每次查询都
    记入审计日志（条件、返回的工单编号、理由）。"""
    page = service.search(session, who, query, client_of(request))
    names = Names(session)
    names.units(item["subplatform"] for item in page["items"])   # one query for the page's places
    page["items"] = [_named(item, names) for item in page["items"]]
    return SearchPage.model_validate(page)


@router.get("/{number}", summary="查看工单")
def read(request: Request, number: str = NUMBER, who: Principal = Depends(principal),
         session: Session = Depends(unit_of_work, scope="function")) -> TicketDetail:
    """工单的全部内容与办理记录。每次查看（包括被拒绝的尝试）都记入审计日志。"""
    detail = _named(service.detail(session, who, number, client_of(request)), Names(session, _queues(request)))
    return TicketDetail.model_validate(detail)


def _queues(request: Request) -> dict[str, str]:
    """The number plan's queues by name, for transfers back to a queue in the history (the plan comes with the phone
    link; before it is up, the sub-platforms' queues are named from the desk's cities)."""
    link = getattr(request.app.state, "telephony", None)
    return queue_names(link.plan if link is not None else None, request.app.state.city_names)


def _named(ticket: dict[str, Any], names: Names) -> dict[str, Any]:
    """The names people read next to the codes (issue 19): topic, city, and in the history who did it and what."""
    ticket = {**ticket, "topic_name": topic_name(ticket["topic"]),
              "subplatform_name": names.place(ticket["subplatform"])}
    if "history" in ticket:
        names.people(e["actor"] for e in ticket["history"])   # one query for everyone in the history
        ticket["history"] = [{**e, "actor_name": names.person(e["actor"]),
                              "text": names.history_text(e["action"], e["data"])} for e in ticket["history"]]
    return ticket


# ── 修改工单: edit after save ─────────────────────────────────────────────────
class Edited(Reply):
    number: str
    state: str = Field(description="状态代码（修改不改变状态）")
    changed: list[str] = Field(description="修改了的字段")


@router.patch("/{number}", summary="修改工单")
def edit(request: Request, change: service.TicketEdit, number: str = NUMBER, who: Principal = Depends(principal),
         session: Session = Depends(unit_of_work, scope="function")) -> Edited:
    """登记工单的话务员在派单前（状态“已受理”）修改标题、诉求内容、市民诉求、发生时间、地点、所属市县、业务分类和联系人；
    只传要修改的字段。修改记入办理记录（谁、何时、哪些字段）和审计日志；派单后不能修改（409），非本人登记的工单不能
    修改（403，记入审计日志）。"""
    row, changed = service.edit(session, who, number, change, client_of(request))
    request.state.changed = [row.number]
    return Edited(number=row.number, state=row.state, changed=changed)


def _action_route(name: str, body_model: type[BaseModel] | None) -> None:
    """``POST /tickets/{number}/actions/<name>`` with that action's own body (or none)."""

    def act(request: Request, number: str, body: BaseModel | None, who: Principal, session: Session) -> ActionResult:
        payload = body.model_dump(mode="json") if body is not None else {}
        row = service.act(session, who, request.app.state.settings, number, name, payload)
        request.state.changed = [row.number]
        return ActionResult(number=row.number, state=row.state)

    if body_model is None:
        def handler(request: Request, number: str = NUMBER, who: Principal = Depends(principal),
                    session: Session = Depends(unit_of_work, scope="function")) -> ActionResult:
            return act(request, number, None, who, session)
    else:
        def handler(request: Request, number: str = NUMBER, body: Any = Body(...),  # type: ignore[misc]
                    who: Principal = Depends(principal),
                    session: Session = Depends(unit_of_work, scope="function")) -> ActionResult:
            return act(request, number, body, who, session)
        handler.__annotations__ = {**handler.__annotations__, "body": body_model}

    handler.__annotations__ = {**handler.__annotations__, "request": Request, "number": str, "who": Principal,
                               "session": Session, "return": ActionResult}
    label = lc.ACTION_LABELS[name]
    handler.__name__ = f"action_{name}"
    handler.__doc__ = (f"办理流程中的“{label}”。能否执行取决于工单当前状态和用户角色（承办单位执行签收、退单、"
                       "答复、申诉；话务员和平台人员执行其余操作）；不允许时返回 403 或 409 及中文说明。")
    router.add_api_route(f"/{{number}}/actions/{name}", handler, methods=["POST"], summary=f"办理：{label}",
                         response_model=ActionResult)


for _name, _spec in service.ACTIONS.items():
    _action_route(_name, _spec.body)


# ── 并单 merge: two tickets at once, so not in service.ACTIONS; same URL shape, so the ticket page treats them alike
@router.post("/{number}/actions/merge", summary="办理：并单")
def merge(request: Request, body: service.MergeBody, number: str = NUMBER, who: Principal = Depends(principal),
          session: Session = Depends(unit_of_work, scope="function")) -> ActionResult:
    """把本工单并入主工单（同一事项的重复诉求）：本工单状态变为“已并单”，不再单独派单、答复或办结；主工单答复后，
    答复同样送达本工单的市民，本工单进入待回访，回访结果记在本工单上。话务员只能并单本人可办理的“已受理”工单，平台人员
    可并单尚未答复的在办工单。不能并入已并单、已答复或已办结的工单，已有并入工单的主工单也不能再并入其他工单。"""
    row = service.merge(session, who, number, body.host, body.reason)
    request.state.changed = [row.number, body.host]
    return ActionResult(number=row.number, state=row.state)


@router.post("/{number}/actions/unmerge", summary="办理：撤销并单")
def unmerge(request: Request, body: service.UnmergeBody, number: str = NUMBER, who: Principal = Depends(principal),
            session: Session = Depends(unit_of_work, scope="function")) -> ActionResult:
    """仅平台管理员：撤销并单（必须说明理由，记入办理记录和审计日志），本工单回到“已受理”，可重新派单；主工单的答复
    已送达本工单后不能撤销。"""
    row = service.unmerge(session, who, number, body.reason, client=client_of(request))
    request.state.changed = [row.number]
    return ActionResult(number=row.number, state=row.state)
