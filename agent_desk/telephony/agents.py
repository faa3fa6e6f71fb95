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

Browser softphones (WebRTC): with ``agents.webrtc: true`` in the site config the agent endpoints get
``webrtc=yes`` (DTLS-SRTP with a certificate Asterisk generates itself, ICE, AVPF) and a WebSocket transport
on Asterisk's HTTP server (``ws://<bind>:<http_port>/ws``). A browser page served from ``http://127.0.0.1``
or ``localhost`` may use ``ws://`` and the microphone; any other origin needs ``wss://``, i.e. TLS on
Asterisk's HTTP server with a certificate the browser trusts (see README, "Agents and transfers"). Off by
default: a WebRTC endpoint cannot also serve a plain SIP softphone (it insists on DTLS and ICE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from hotline.ami import AmiClient, AmiError
from hotline.site import SiteConfig

from agent_desk.telephony._ami import user_event

PAUSE_REASON = "break"  # 小休; the feature code *13 uses the same reason


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


async def login(ami: AmiClient, extension: str, queues: Iterable[str]) -> list[str]:
    """Add the agent to ``queues`` (unpaused). Returns the queues it is now a member of; already a member
    counts as logged in."""
    joined = []
    for queue in queues:
        try:
            await ami.action({"Action": "QueueAdd", "Queue": queue, "Interface": member_interface(extension),
                              "MemberName": member_name(extension), "StateInterface": member_interface(extension),
                              "Paused": "false"})
        except AmiError as exc:
            if "already there" not in str(exc).lower():
                raise
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
                                reason=e.get("PausedReason"), status=e.get("Status"), in_call=e.get("InCall") == "1"))
    return found


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
    """Pause the agent in every queue (or one): no new calls are offered, the current call goes on."""
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


async def registration(ami: AmiClient, extension: str) -> Registration:
    """Whether the agent's softphone is registered, from the center's PJSIP contacts."""
    contacts = [e for e in await ami.action_list({"Action": "PJSIPShowContacts"})
                if e.get("Endpoint") == str(extension) or e.get("ObjectName", "").split(";@")[0] == str(extension)]
    return Registration(str(extension), bool(contacts), tuple(e.get("Uri") for e in contacts),
                        contacts[0].get("UserAgent") if contacts else "")
