"""Agents on softphones: log in, log out, pause and resume over AMI, and the agent's registration state.

Every agent is a PJSIP endpoint named by its extension (site config ``agents:``, 8001.. by default) with a
credential generated at install (``var/secrets/sip-agent-<extension>``), registering only from the site's
agent networks (``agents.permit``, loopback by default; source address and Contact are both checked), with
8 kHz codecs (alaw, ulaw). Which queues an agent serves is data: ``agents.queues`` for everyone,
``agents.membership`` per extension.

The same actions exist as feature codes dialled from the softphone (dialplan ``[hotline-agents]``):

    *11  log in to the agent's queues        *13  pause (小休)
    *12  log out of every queue              *14  resume

Both paths add the same member (interface ``PJSIP/<extension>``, name ``agent-<extension>``, state from
the endpoint), so an agent logged in by the desk can log out with *12 and the other way round. Both emit
``UserEvent: HotlineAgent`` with ``Agent`` and ``AgentAction``.

Pause reasons are data: ``agents.pause_reasons`` in the site config (code → 中文 label; 小休 break, 就餐 meal,
培训 training, 会议 meeting, 事后处理 after_call, 质检辅导 coaching by default); the code is the member's
PausedReason in Asterisk, and *13 pauses with ``agents.pause_default``. Wrap-up (话后整理): every queue has
its fixed ``wrapup`` seconds (number plan, queues.conf ``wrapuptime``); an agent who needs longer pauses
with ``after_call`` (事后处理) and resumes when done.

Skills: the queues an agent serves and their penalties. The desk stores them per extension (table
``agent_skills``, ``agent_desk.telephony.skills``); with none stored, the site's static membership applies.
``login_with_skills`` makes the agent a member of exactly those queues (QueueAdd with the penalty,
QueueRemove from the others). The *11 feature code still logs in to the site's static membership.

Browser softphones (WebRTC, ``agents.webrtc: true``) are the same endpoints reached over Asterisk's WebSocket
with DTLS-SRTP; what the agent page needs to register is in ``agent_desk.telephony.softphone``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping

from hotline.ami import AmiClient, AmiError
from hotline.numberplan import NumberPlan
from hotline.site import SiteConfig

from agent_desk.telephony._ami import user_event

PAUSE_REASON = "break"  # 小休: the site's default ``agents.pause_default``; the feature code *13 uses the site's
MAX_PENALTY = 100       # queue member penalty (技能优先级): 0 is offered calls first


# ── pause reasons and skills (pure) ──────────────────────────────────────────
class AgentSettingError(ValueError):
    """A pause reason or a skill the site or the plan does not know; ``message`` is for people (中文)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def pause_reasons(site: SiteConfig) -> dict[str, str]:
    """Pause reason code → label, in the site's order (小休, 就餐, 培训, 会议, 事后处理, 质检辅导 by default)."""
    return dict(site.agents.pause_reasons)


def reason_label(site: SiteConfig, code: str) -> str:
    """The label of a PausedReason as Asterisk reports it; an unknown reason (set elsewhere) is shown as is."""
    return site.agents.pause_reasons.get(code, code)


def check_reason(site: SiteConfig, code: str | None) -> str:
    """The reason code to send: the site's default when none is given; unknown codes are refused."""
    if not code:
        return site.agents.pause_default
    if code not in site.agents.pause_reasons:
        raise AgentSettingError("unknown_pause_reason", f"未知的置忙原因“{code}”")
    return code


@dataclass(frozen=True)
class Skill:
    """One queue an agent serves, with its penalty (lower is offered calls first)."""

    queue: str
    penalty: int = 0


def check_skills(plan: NumberPlan, items: Iterable[Mapping[str, Any]]) -> list[Skill]:
    """Validate ``[{queue, penalty}]`` against the number plan: known queues, each once, penalty 0..100."""
    queues = plan.all_queues()
    skills: list[Skill] = []
    for item in items:
        queue = str(item.get("queue", "")).strip()
        if queue not in queues:
            raise AgentSettingError("unknown_queue", f"队列“{queue}”不在号码规划中")
        if any(s.queue == queue for s in skills):
            raise AgentSettingError("duplicate_queue", f"队列“{queues[queue].name}”重复")
        penalty = item.get("penalty", 0)
        if isinstance(penalty, bool) or not isinstance(penalty, int) or not 0 <= penalty <= MAX_PENALTY:
            raise AgentSettingError("bad_penalty", f"队列“{queues[queue].name}”的优先级须为0至{MAX_PENALTY}的整数")
        skills.append(Skill(queue, penalty))
    if not skills:
        raise AgentSettingError("no_queue", "请至少选择一个队列")
    return skills


def default_skills(site: SiteConfig, extension: str) -> list[Skill]:
    """The site's static membership (``agents.membership`` / ``agents.queues``), penalty 0."""
    return [Skill(q) for q in queues_for(site, extension)]


def member_interface(extension: str) -> str:
    """The queue member interface of an agent: its PJSIP endpoint (the dialplan uses the same)."""
    return f"PJSIP/{extension}"


def member_name(extension: str) -> str:
    return f"agent-{extension}"


def queues_for(site: SiteConfig, extension: str) -> list[str]:
    """The queues this agent serves, from the site config (the data the *11 feature code also uses)."""
    if str(extension) not in site.agents.extensions():
        raise ValueError(f"{extension} is not an agent extension of this site")
    return site.agents.queues_of(str(extension))


@dataclass(frozen=True)
class Membership:
    queue: str
    extension: str
    paused: bool
    reason: str
    status: str      # Asterisk device state of the member: 1 not in use, 2 in use, 5 unavailable, ...
    in_call: bool
    penalty: int = 0


async def login(ami: AmiClient, extension: str, queues: Iterable[str],
                penalties: Mapping[str, int] | None = None) -> list[str]:
    """Add the agent to ``queues`` (unpaused), with ``penalties`` per queue (default 0). Returns the queues it is
    now a member of; already a member counts as logged in (its penalty is set to the one asked for)."""
    joined = []
    for queue in queues:
        penalty = str(int((penalties or {}).get(queue, 0)))
        try:
            await ami.action({"Action": "QueueAdd", "Queue": queue, "Interface": member_interface(extension),
                              "MemberName": member_name(extension), "StateInterface": member_interface(extension),
                              "Penalty": penalty, "Paused": "false"})
        except AmiError as exc:
            if "already there" not in str(exc).lower():
                raise
            if penalties is not None:
                await ami.action({"Action": "QueuePenalty", "Queue": queue, "Interface": member_interface(extension),
                                  "Penalty": penalty})
        joined.append(queue)
    await user_event(ami, "HotlineAgent", {"Agent": extension, "AgentAction": "login", "Queues": "&".join(joined)})
    return joined


async def memberships(ami: AmiClient, extension: str | None = None) -> list[Membership]:
    """Queue memberships, of one agent or of every agent."""
    events = await ami.action_list({"Action": "QueueStatus"})
    found = []
    for e in events:
        if e.name != "QueueMember":
            continue
        location = e.get("Location") or e.get("Interface")
        if not location.startswith("PJSIP/"):
            continue
        ext = location.split("/", 1)[1]
        if extension is not None and ext != str(extension):
            continue
        found.append(Membership(queue=e.get("Queue"), extension=ext, paused=e.get("Paused") == "1",
                                reason=e.get("PausedReason"), status=e.get("Status"), in_call=e.get("InCall") == "1",
                                penalty=int(e.get("Penalty") or 0)))
    return found


async def login_with_skills(ami: AmiClient, extension: str, skills: Iterable[Skill]) -> list[str]:
    """Log the agent in to exactly its skills: QueueAdd each skill's queue with its penalty, QueueRemove from
    any other queue it is still a member of (a skill taken away since its last login)."""
    wanted = {s.queue: s.penalty for s in skills}
    stale = [m.queue for m in await memberships(ami, extension) if m.queue not in wanted]
    if stale:
        await logout(ami, extension, stale)
    return await login(ami, extension, list(wanted), wanted)


async def logout(ami: AmiClient, extension: str, queues: Iterable[str] | None = None) -> list[str]:
    """Remove the agent from ``queues`` (default: every queue it is in). Returns the queues left."""
    names = list(queues) if queues is not None else [m.queue for m in await memberships(ami, extension)]
    left = []
    for queue in names:
        try:
            await ami.action({"Action": "QueueRemove", "Queue": queue, "Interface": member_interface(extension)})
            left.append(queue)
        except AmiError as exc:
            if "not there" not in str(exc).lower():
                raise
    await user_event(ami, "HotlineAgent", {"Agent": extension, "AgentAction": "logout", "Queues": "&".join(left)})
    return left


async def pause(ami: AmiClient, extension: str, reason: str = PAUSE_REASON, queue: str | None = None) -> None:
    """Pause the agent in every queue (or one): no new calls are offered, the current call goes on. ``reason``
    is a code of the site's ``agents.pause_reasons`` (see ``check_reason``); Asterisk keeps it as PausedReason."""
    action = {"Action": "QueuePause", "Interface": member_interface(extension), "Paused": "true", "Reason": reason}
    if queue:
        action["Queue"] = queue
    await ami.action(action)
    await user_event(ami, "HotlineAgent", {"Agent": extension, "AgentAction": "pause", "Reason": reason})


async def unpause(ami: AmiClient, extension: str, queue: str | None = None) -> None:
    action = {"Action": "QueuePause", "Interface": member_interface(extension), "Paused": "false"}
    if queue:
        action["Queue"] = queue
    await ami.action(action)
    await user_event(ami, "HotlineAgent", {"Agent": extension, "AgentAction": "unpause"})


@dataclass(frozen=True)
class Registration:
    extension: str
    registered: bool
    contacts: tuple[str, ...]   # registered contact URIs
    user_agent: str = ""
    # 签入 goes ahead although nobody could say (a cluster's proxy did not answer): why, in the agent's words
    unconfirmed: str = ""


async def registration(ami: AmiClient, extension: str) -> Registration:
    """Whether the agent's softphone is registered, from the center's PJSIP contacts."""
    return (await registrations(ami, [extension]))[str(extension)]


async def registrations(ami: AmiClient, extensions: Iterable[str]) -> dict[str, Registration]:
    """The registration of several softphones, from the PJSIP_AOR/PJSIP_CONTACT dialplan functions (Getvar).

    Not PJSIPShowContacts: that action needs AMI's ``system`` class, and with ``system`` an Originate may run the
    System application (a shell). The desk's AMI user has no ``system``; Getvar of these functions needs ``call``."""
    extensions = list(map(str, extensions))
    found = await asyncio.gather(*(_registration(ami, ext) for ext in extensions))
    return dict(zip(extensions, found))


async def _function(ami: AmiClient, expression: str) -> str:
    try:
        reply = await ami.action({"Action": "Getvar", "Variable": expression})
    except AmiError:   # no such AOR / contact (e.g. it expired meanwhile)
        return ""
    value = reply.get("Value", "")
    return "" if value in ("(null)", "None") else value


async def _registration(ami: AmiClient, extension: str) -> Registration:
    if not extension.isdigit():   # it goes into a function's arguments: digits only
        return Registration(extension, False, ())
    ids = [c for c in (await _function(ami, f"PJSIP_AOR({extension},contact)")).split(",") if c]
    uris = [await _function(ami, f"PJSIP_CONTACT({cid},uri)") for cid in ids]
    contacts = tuple(uri for uri in uris if uri)
    agent = await _function(ami, f"PJSIP_CONTACT({ids[0]},user_agent)") if contacts else ""
    return Registration(extension, bool(contacts), contacts, agent)
