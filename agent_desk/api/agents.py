"""Agents on the phone system, from the desk: state, log in/out, pause (with a reason)/resume, skills, and the
supervisors' listen / whisper / barge on a live call.

Supervisors (and administrators) manage any agent extension (``/api/agents/{ext}/...``); an agent manages
only itself (``/api/agents/me/...``, its user's extension). Everything reaches Asterisk through the desk's phone
link (``deps.telephony``: 503 while no node is up). In a cluster (issue 15) log-in, pause, un-pause and log-out go
to every node (``agent_desk.telephony.cluster``), the state is one from all nodes and names the nodes that are away
or differ, and a spy leg starts on the node that carries the agent's call. Actions on another agent and every spy
attempt, refused ones included, are written to the audit log.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Body, Depends, Path, Request
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.agents_schemas import (
    AgentDetail,
    AgentList,
    AgentLoginBody,
    AgentRow,
    AgentSkills,
    AgentState,
    MemberQueue,
    PauseBody,
    PauseReason,
    QueueMembership,
    QueueOption,
    QueueSkill,
    SkillsBody,
    SpyBody,
    SpyReply,
)
from agent_desk.api.deps import client_of, principal, require, telephony, unit_of_work
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.calls import transcript
from agent_desk.db.models import User
from agent_desk.errors import DeskError
from agent_desk.names import queue_name
from agent_desk.telephony import agents as ag
from agent_desk.telephony import cluster as cl
from agent_desk.telephony import skills as sk
from agent_desk.telephony import spy as sp
from agent_desk.telephony.link import NodeDown, TelephonyLink
from hotline.ami import AmiError

log = logging.getLogger(__name__)
router = APIRouter()
MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
EXT = Path(..., pattern=r"^[0-9]{3,8}$", description="坐席的分机号")


# ── helpers ──────────────────────────────────────────────────────────────────
def _record(request: Request, who: Principal, action: str, object_type: str, object_id: str, detail: str) -> None:
    """An audit entry committed on its own: it stays even when the request then fails (refused attempts)."""
    with request.app.state.db.session() as session:
        audit(session, who, action, object_type, object_id, detail, client_of(request))


def _agent_extension(link: TelephonyLink, ext: str) -> str:
    if ext not in link.site.agents.extensions():
        raise DeskError(404, "unknown_agent", f"分机“{ext}”不是本中心的坐席分机")
    return ext


def _own_extension(who: Principal, link: TelephonyLink) -> str:
    if not who.extension:
        raise DeskError(409, "no_extension", "您的账号未绑定分机，请联系管理员")
    return _agent_extension(link, who.extension)


def _setting_error(exc: ag.AgentSettingError) -> DeskError:
    return DeskError(422, exc.code, exc.message)


def _node_down(exc: NodeDown) -> DeskError:
    return DeskError(503, "telephony_unavailable", exc.message)


def _refused(exc: AmiError, message: str) -> DeskError:
    return DeskError(409, "telephony_refused", f"{message}（电话系统：{exc}）")


def _queue_item(link: TelephonyLink, m: ag.Membership) -> QueueMembership:
    reason = m.reason if m.paused else ""
    return QueueMembership(queue=m.queue, name=queue_name(link.plan, m.queue),
                           paused=m.paused, reason=reason,
                           reason_label=ag.reason_label(link.site, reason) if reason else "", in_call=m.in_call)


async def _state(link: TelephonyLink, ext: str) -> AgentState:
    """One state from every node (a cluster: what most nodes say, and which nodes differ or are away)."""
    try:
        view = await cl.agent_view(link, ext)
        phone = await cl.registration(link, ext)
    except NodeDown as exc:
        raise _node_down(exc) from None
    cluster = link.clustered   # a single node's reply stays as it was (no node fields)
    return AgentState(extension=ext, queues=[_queue_item(link, m) for m in view.members], registered=phone.registered,
                      nodes_down=view.down if cluster else None, nodes_disagree=view.disagree if cluster else None,
                      registration_unconfirmed=phone.unconfirmed or None)


def _skill_items(link: TelephonyLink, skills: list[ag.Skill]) -> list[QueueSkill]:
    return [QueueSkill(queue=s.queue, name=queue_name(link.plan, s.queue), penalty=s.penalty) for s in skills]


NOT_REGISTERED = "分机{ext}的话机未注册，不能签入：请先打开网页电话或检查话机，注册成功后再签入"


async def _login(link: TelephonyLink, session: Session, ext: str, queues: list[str] | None) -> list[str]:
    """签入, for the agent itself or by a supervisor: one rule for both (坐席管理 disables 签入 for the same reason): a
    phone that is not registered would be offered calls it cannot ring, so the login is refused before any queue."""
    if not (await cl.registration(link, ext)).registered:
        raise DeskError(409, "phone_not_registered", NOT_REGISTERED.format(ext=ext))
    skills, _ = sk.skills_of(session, link.site, ext)
    if queues is not None:
        penalties = {s.queue: s.penalty for s in skills}
        try:
            skills = ag.check_skills(link.plan, [{"queue": q, "penalty": penalties.get(q, 0)} for q in queues])
        except ag.AgentSettingError as exc:
            raise _setting_error(exc) from None
    try:
        return (await cl.login_with_skills(link, ext, skills))[0]
    except NodeDown as exc:
        raise _node_down(exc) from None
    except AmiError as exc:
        raise _refused(exc, "签入失败") from None


async def _logout(link: TelephonyLink, ext: str) -> list[str]:
    try:
        return (await cl.logout(link, ext))[0]
    except NodeDown as exc:
        raise _node_down(exc) from None


async def _pause(link: TelephonyLink, ext: str, reason: str | None) -> str:
    try:
        code = ag.check_reason(link.site, reason)
    except ag.AgentSettingError as exc:
        raise _setting_error(exc) from None
    try:
        await cl.pause(link, ext, code)
    except NodeDown as exc:
        raise _node_down(exc) from None
    except AmiError as exc:
        raise _refused(exc, "置忙失败，坐席可能尚未签入") from None
    return code


async def _unpause(link: TelephonyLink, ext: str) -> None:
    try:
        await cl.unpause(link, ext)
    except NodeDown as exc:
        raise _node_down(exc) from None
    except AmiError as exc:
        raise _refused(exc, "置闲失败，坐席可能尚未签入") from None


# ── reasons ──────────────────────────────────────────────────────────────────
@router.get("/pause-reasons", summary="置忙原因")
def pause_reasons(_who: Principal = Depends(require(Role.AGENT, *MANAGERS)),
                  link: TelephonyLink = Depends(telephony)) -> list[PauseReason]:
    """本中心的置忙原因（小休、就餐、培训、会议、事后处理、质检辅导等，按站点配置的顺序），及默认原因。"""
    default = link.site.agents.pause_default
    return [PauseReason(code=code, label=label, default=code == default)
            for code, label in ag.pause_reasons(link.site).items()]


# ── an agent, for itself ─────────────────────────────────────────────────────
@router.get("/agents/me", summary="我的坐席状态")
async def my_state(who: Principal = Depends(require(Role.AGENT)),
                   link: TelephonyLink = Depends(telephony)) -> AgentState:
    """话务员自己的分机在电话系统中的状态：签入的队列、置忙与原因、话机是否在线。账号未绑定分机时返回 409。"""
    return await _state(link, _own_extension(who, link))


@router.post("/agents/me/login", summary="签入")
async def my_login(who: Principal = Depends(require(Role.AGENT)), link: TelephonyLink = Depends(telephony),
                   session: Session = Depends(unit_of_work, scope="function")) -> AgentState:
    """话务员签入自己的全部技能队列（按技能的优先级），返回签入后的状态。话机未注册时不能签入
    （409 phone_not_registered）。"""
    ext = _own_extension(who, link)
    await _login(link, session, ext, None)
    return await _state(link, ext)


@router.post("/agents/me/logout", summary="签出")
async def my_logout(who: Principal = Depends(require(Role.AGENT)),
                    link: TelephonyLink = Depends(telephony)) -> AgentState:
    """话务员签出自己的全部队列，返回签出后的状态。"""
    ext = _own_extension(who, link)
    await _logout(link, ext)
    return await _state(link, ext)


@router.post("/agents/me/pause", summary="置忙")
async def my_pause(body: PauseBody = Body(default_factory=PauseBody), who: Principal = Depends(require(Role.AGENT)),
                   link: TelephonyLink = Depends(telephony)) -> AgentState:
    """话务员在全部签入的队列置忙（暂停接听），可指定原因；返回置忙后的状态。未签入时返回 409。"""
    ext = _own_extension(who, link)
    await _pause(link, ext, body.reason)
    return await _state(link, ext)


@router.post("/agents/me/unpause", summary="置闲")
async def my_unpause(who: Principal = Depends(require(Role.AGENT)),
                     link: TelephonyLink = Depends(telephony)) -> AgentState:
    """话务员恢复接听（取消置忙），返回置闲后的状态。未签入时返回 409。"""
    ext = _own_extension(who, link)
    await _unpause(link, ext)
    return await _state(link, ext)


# ── supervisors: every agent ─────────────────────────────────────────────────
@router.get("/agents", summary="全部坐席")
async def list_agents(who: Principal = Depends(require(*MANAGERS)), link: TelephonyLink = Depends(telephony),
                      session: Session = Depends(unit_of_work, scope="function")) -> AgentList:
    """班长的坐席管理：每名启用且绑定分机的话务员的话机、签入队列、置忙与通话状态及技能，以及可设置的全部队列。"""
    users = session.scalars(select(User).where(User.role == Role.AGENT.value, User.extension.is_not(None),
                                               User.active.is_(True)).order_by(User.extension)).all()
    extensions = [u.extension for u in users if u.extension is not None]
    try:
        views = await cl.agent_views(link, extensions)
        registrations = await cl.registrations(link, extensions)
    except NodeDown as exc:
        raise _node_down(exc) from None
    stored = sk.all_stored_skills(session)
    rows = []
    for user in users:
        ext = user.extension
        assert ext is not None  # selected by its extension
        mine = views[ext].members
        skills, source = sk.skills_of(session, link.site, ext, stored) if ext in link.site.agents.extensions() \
            else ([], sk.SITE)
        queues = [MemberQueue(**_queue_item(link, m).model_dump(), penalty=m.penalty) for m in mine]
        rows.append(AgentRow(
            user=user.username, display_name=user.display_name, extension=ext,
            registered=registrations[ext].registered, logged_in=bool(mine),
            paused=bool(mine) and all(m.paused for m in mine), in_call=any(m.in_call for m in mine),
            queues=queues, skills=_skill_items(link, skills), skills_source=source,
            nodes_disagree=views[ext].disagree,
        ))
    plan_queues = link.plan.all_queues()
    return AgentList(agents=rows, queues=[QueueOption(queue=q, name=plan_queues[q].name) for q in plan_queues],
                     supervisor_extension=who.extension)


@router.get("/agents/{ext}", summary="坐席状态")
async def agent_state(ext: str = EXT, _who: Principal = Depends(require(*MANAGERS)),
                      link: TelephonyLink = Depends(telephony),
                      session: Session = Depends(unit_of_work, scope="function")) -> AgentDetail:
    """一名坐席（按分机号）在电话系统中的状态及其技能。"""
    ext = _agent_extension(link, ext)
    skills, source = sk.skills_of(session, link.site, ext)
    return AgentDetail(**(await _state(link, ext)).model_dump(), skills=_skill_items(link, skills),
                       skills_source=source)


@router.post("/agents/{ext}/login", summary="为坐席签入")
async def agent_login(request: Request, ext: str = EXT,
                      body: AgentLoginBody = Body(default_factory=AgentLoginBody),
                      who: Principal = Depends(require(*MANAGERS)), link: TelephonyLink = Depends(telephony),
                      session: Session = Depends(unit_of_work, scope="function")) -> AgentState:
    """班长为坐席签入其技能队列（或其中指定的队列），记入审计日志；返回签入后的状态。坐席话机未注册时不能签入
    （409 phone_not_registered）。"""
    ext = _agent_extension(link, ext)
    joined = await _login(link, session, ext, body.queues)
    _record(request, who, "agent_login", "agent", ext, "queues " + ",".join(joined))
    return await _state(link, ext)


@router.post("/agents/{ext}/logout", summary="为坐席签出")
async def agent_logout(request: Request, ext: str = EXT, who: Principal = Depends(require(*MANAGERS)),
                       link: TelephonyLink = Depends(telephony)) -> AgentState:
    """班长为坐席签出全部队列，记入审计日志；返回签出后的状态。"""
    ext = _agent_extension(link, ext)
    left = await _logout(link, ext)
    _record(request, who, "agent_logout", "agent", ext, "queues " + ",".join(left))
    return await _state(link, ext)


@router.post("/agents/{ext}/pause", summary="为坐席置忙")
async def agent_pause(request: Request, ext: str = EXT, body: PauseBody = Body(default_factory=PauseBody),
                      who: Principal = Depends(require(*MANAGERS)),
                      link: TelephonyLink = Depends(telephony)) -> AgentState:
    """班长将坐席置忙（可指定原因），记入审计日志；返回置忙后的状态。坐席未签入时返回 409。"""
    ext = _agent_extension(link, ext)
    code = await _pause(link, ext, body.reason)
    _record(request, who, "agent_pause", "agent", ext, f"reason {code}")
    return await _state(link, ext)


@router.post("/agents/{ext}/unpause", summary="为坐席置闲")
async def agent_unpause(request: Request, ext: str = EXT, who: Principal = Depends(require(*MANAGERS)),
                        link: TelephonyLink = Depends(telephony)) -> AgentState:
    """班长取消坐席的置忙，记入审计日志；返回置闲后的状态。坐席未签入时返回 409。"""
    ext = _agent_extension(link, ext)
    await _unpause(link, ext)
    _record(request, who, "agent_unpause", "agent", ext, "")
    return await _state(link, ext)


@router.put("/agents/{ext}/skills", summary="设置坐席技能")
async def set_skills(request: Request, body: SkillsBody, ext: str = EXT, who: Principal = Depends(require(*MANAGERS)),
                     link: TelephonyLink = Depends(telephony),
                     session: Session = Depends(unit_of_work, scope="function")) -> AgentSkills:
    """保存坐席服务的队列及优先级（取代站点配置的默认队列），坐席下次（在工作台）签入时生效；记入审计日志。"""
    # Stored skills apply at the agent's next desk login, not to its current membership.
    ext = _agent_extension(link, ext)
    try:
        skills = ag.check_skills(link.plan, [item.model_dump() for item in body.queues])
    except ag.AgentSettingError as exc:
        raise _setting_error(exc) from None
    sk.save_skills(session, ext, skills, who.username)
    audit(session, who, "agent_skills", "agent", ext, ",".join(f"{s.queue}:{s.penalty}" for s in skills),
          client_of(request))
    return AgentSkills(extension=ext, skills=_skill_items(link, skills), skills_source=sk.STORED)


@router.delete("/agents/{ext}/skills", summary="恢复默认技能")
async def reset_skills(request: Request, ext: str = EXT, who: Principal = Depends(require(*MANAGERS)),
                       link: TelephonyLink = Depends(telephony),
                       session: Session = Depends(unit_of_work, scope="function")) -> AgentSkills:
    """删除在工作台设置的技能，坐席恢复站点配置的默认队列（下次签入时生效）；记入审计日志。"""
    ext = _agent_extension(link, ext)
    sk.save_skills(session, ext, [], who.username)
    audit(session, who, "agent_skills", "agent", ext, "reset to site default", client_of(request))
    skills, source = sk.skills_of(session, link.site, ext)
    return AgentSkills(extension=ext, skills=_skill_items(link, skills), skills_source=source)


# ── supervisors: listen, whisper, barge ──────────────────────────────────────
def spy_supervisor(request: Request, body: SpyBody, who: Principal = Depends(principal)) -> Principal:
    """Supervisors only; any other role is refused with 403, and the attempt is audited."""
    if who.role != Role.SUPERVISOR:
        _record(request, who, "spy", "agent", body.agent, f"refused: role {who.role.value}, mode {body.mode}")
        raise DeskError(403, "forbidden_role", "只有平台管理员（班长）可以监听、耳语或强插")
    return who


@router.post("/calls/spy", status_code=202, summary="监听、耳语或强插")
async def spy_on_call(request: Request, body: SpyBody, who: Principal = Depends(spy_supervisor),
                      link: TelephonyLink = Depends(telephony)) -> SpyReply:
    """班长监听（只听）、耳语（只有坐席听得到）或强插（坐席和市民都听得到）坐席当前的通话：先呼叫班长自己的话机，接听后
    开始。只有平台管理员（班长）可以使用，且须绑定分机、话机已注册、坐席正在通话；每次尝试（包括被拒绝的）都记入审计日志。"""
    # Ring the supervisor's own softphone; answered, it listens to (whispers to, barges into) the agent's call.
    label = sp.MODE_LABELS[sp.SpyMode(body.mode)]

    def refuse(status: int, code: str, message: str, why: str) -> DeskError:
        _record(request, who, "spy", "agent", body.agent, f"refused: {why}, mode {body.mode}")
        return DeskError(status, code, message)

    if body.agent not in link.site.agents.extensions():
        raise refuse(404, "unknown_agent", f"分机“{body.agent}”不是本中心的坐席分机", "unknown agent")
    mine = who.extension
    if not mine:
        raise refuse(409, "no_extension", f"您的账号未绑定分机，无法{label}", "supervisor has no extension")
    if mine == body.agent:
        raise refuse(409, "own_extension", f"不能{label}自己的分机", "own extension")
    if not (await cl.registration(link, mine)).registered:
        raise refuse(409, "phone_not_registered", f"您的话机（分机{mine}）未注册，无法{label}",
                     "supervisor phone not registered")
    call = await sp.agent_call(link.ami, body.agent)
    if call is None:
        raise refuse(409, "no_live_call", f"坐席{body.agent}当前没有通话，无法{label}", "no live call")
    try:
        session = await sp.spy(link.ami, mine, body.agent, body.mode, call=call)
    except AmiError as exc:
        raise refuse(409, "telephony_refused", f"{label}失败（电话系统：{exc}）", f"originate failed: {exc}") from None
    if call.call_id:   # the live transcript follows the supervisor's listening (/ws/desk) until the spy leg ends
        try:
            transcript.register_spy(request.app.state.redis, call.call_id, who.user_id, session.spy_channel_id)
        except (RedisError, OSError) as exc:
            log.warning("live transcript not sent to %s listening to %s: %s", who.username, call.call_id, exc)
    _record(request, who, "spy", "call", call.call_id or call.agent_channel,
            f"mode {body.mode}, agent {body.agent}, channel {call.agent_channel}, supervisor phone {mine}, "
            f"spy channel {session.spy_channel_id}")
    return SpyReply(**session.as_dict(), message=f"请接听您的话机（分机{mine}）开始{label}")
