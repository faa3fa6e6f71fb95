"""Listen (监听), whisper (耳语) and barge (强插) on an agent's live call, for supervisors.

The supervisor's own softphone (``PJSIP/<supervisor extension>``) is originated over AMI straight into the
ChanSpy application on the agent's channel (``Application=ChanSpy`` in the Originate, no dialplan): the
generated dialplan stays as it is, and the spied channel and the options are decided here, by the desk,
which has already checked the supervisor's role. When the supervisor answers, ChanSpy attaches to the
agent's channel (AMI ``ChanSpyStart``: ``SpyerChannel``, ``SpyeeChannel``).

Options (Asterisk 22 ChanSpy):

    q  quiet: no beep, the spied channel's name is not spoken
    E  exit when the spied channel hangs up (the supervisor's phone is hung up with the call)
    S  stop when there is no channel left to spy on
    w  whisper: the supervisor talks to the agent only; the citizen does not hear it
    B  barge: the supervisor talks to both the agent and the citizen

The spied channel is given whole as ChanSpy's prefix (``PJSIP/8001-0000002b``), so only that call is spied,
never another channel whose name happens to begin the same way.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from hotline import channelvars as v
from hotline.ami import AmiClient, AmiError

from agent_desk.telephony._ami import getvar
from agent_desk.telephony.agents import member_interface
from agent_desk.telephony.transfers import SPY_APPLICATION, agent_node, live_call_of

BASE_OPTIONS = "qES"
_CHANNEL = re.compile(r"^PJSIP/[A-Za-z0-9_.@:+-]+$")   # no comma, space or '|': ChanSpy's data stays two arguments


class SpyMode(StrEnum):
    LISTEN = "listen"     # 监听
    WHISPER = "whisper"   # 耳语: only the agent hears the supervisor
    BARGE = "barge"       # 强插: the agent and the citizen hear the supervisor


MODE_LABELS = {SpyMode.LISTEN: "监听", SpyMode.WHISPER: "耳语", SpyMode.BARGE: "强插"}
_MODE_OPTIONS = {SpyMode.LISTEN: "", SpyMode.WHISPER: "w", SpyMode.BARGE: "B"}


class NoLiveCall(LookupError):
    """The agent is on no call that could be spied on."""


def chanspy_options(mode: SpyMode | str) -> str:
    return BASE_OPTIONS + _MODE_OPTIONS[SpyMode(mode)]


def chanspy_data(agent_channel: str, mode: SpyMode | str) -> str:
    """ChanSpy's arguments: the agent's whole channel name as the prefix, then the options."""
    if not _CHANNEL.match(agent_channel or ""):
        raise ValueError(f"not an agent channel: {agent_channel!r}")
    return f"{agent_channel},{chanspy_options(mode)}"


@dataclass(frozen=True)
class AgentCall:
    extension: str
    agent_channel: str
    call_id: str            # HOTLINE_CALL_ID of the call ("" for a call that is not a citizen's)
    citizen_channel: str    # the bridge peer, "" when the agent is in a conference
    # The connection of the node that carries the call (a cluster): the supervisor's leg is started there, since
    # ChanSpy reaches only its own node's channels. None: the connection handed to ``spy``.
    node: AmiClient | None = field(default=None, compare=False, repr=False)


async def agent_call(ami: AmiClient, extension: str) -> AgentCall | None:
    """The agent's current call, on whichever node carries it: its softphone leg, and the citizen when it is a
    two-party call."""
    found = await agent_node(ami, extension)
    if found is None:
        return None
    node, channel = found
    live = await live_call_of(node, channel, extension)
    if live is not None:
        return AgentCall(extension, channel, live.call_id, live.citizen_channel, node)
    return AgentCall(extension, channel, await getvar(node, channel, v.CALL_ID) or "", "", node)


@dataclass(frozen=True)
class SpySession:
    mode: str
    supervisor: str          # the supervisor's extension, whose phone rings
    agent: str
    agent_channel: str
    call_id: str
    spy_channel_id: str      # Uniqueid of the supervisor's channel
    options: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mode_label": MODE_LABELS[SpyMode(self.mode)]}


async def spy(ami: AmiClient, supervisor: str, agent: str, mode: SpyMode | str, *, call: AgentCall | None = None,
              ring_seconds: int = 30) -> SpySession:
    """Ring the supervisor's softphone; once answered it spies on the agent's current call in ``mode``.
    Raises ``NoLiveCall`` when the agent is on no call."""
    mode = SpyMode(mode)
    call = call or await agent_call(ami, agent)
    if call is None:
        raise NoLiveCall(agent)
    ami = call.node if call.node is not None else ami
    channel_id = f"spy-{uuid.uuid4().hex[:16]}"
    data = chanspy_data(call.agent_channel, mode)
    action = {
        "Action": "Originate", "Channel": member_interface(supervisor), "Application": SPY_APPLICATION,
        "Data": data, "CallerID": f'"{MODE_LABELS[mode]}{agent}" <{agent}>', "Async": "true",
        "Timeout": str(ring_seconds * 1000), "ChannelId": channel_id,
    }
    if call.call_id:   # the spy leg belongs to the call: the listener does not take its hang-up for a call of its own
        action["Variable"] = f"{v.CALL_ID}={call.call_id}"
    await ami.action(action)
    return SpySession(mode.value, str(supervisor), str(agent), call.agent_channel, call.call_id, channel_id,
                      chanspy_options(mode))


async def stop_spy(ami: AmiClient, spy_channel_id: str) -> bool:
    """Hang up the supervisor's spy channel (by its Uniqueid); False when it is already gone."""
    try:
        await ami.action({"Action": "Hangup", "Channel": spy_channel_id})
    except AmiError:
        return False
    return True
