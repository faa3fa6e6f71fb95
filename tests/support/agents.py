"""Agents for end-to-end scenarios: softphones registered from the peer Asterisk, citizens reaching them
through the real queue, and the peer's far ends made busy or silent per test."""

from __future__ import annotations

import asyncio
import contextlib
import time

from agent_desk.telephony import LiveCall, agents
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from tests.support.center import Center

CITIZEN = "13907550002"


def softphones(center: Center) -> list[str]:
    """Extensions the peer registers with the right credential (the last one has a wrong password)."""
    return center.site.agents.extensions()[:-1]


def badauth_phone(center: Center) -> str:
    return center.site.agents.extensions()[-1]


async def wait_registered(center: Center, extension: str, timeout: float = 20) -> agents.Registration:
    deadline = time.monotonic() + timeout
    while True:
        reg = await agents.registration(center.ami, extension)
        if reg.registered or time.monotonic() > deadline:
            return reg
        await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def peer_mode(center: Center, family: str, key: str, mode: str):
    """Make the peer's far end ``key`` (a number in family "gateway", an extension in "softphone") behave
    as ``mode`` (answer, busy, noanswer, reject) for the block."""
    await center.peer_ami.action({"Action": "DBPut", "Family": family, "Key": key, "Val": mode})
    try:
        yield
    finally:
        await center.peer_ami.action({"Action": "DBDel", "Family": family, "Key": key})


async def citizen_reaches_agent(center: Center, extension: str, queue: str = GENERAL_QUEUE,
                                timeout: float = 30) -> LiveCall:
    """A citizen's call (a Local channel standing in for the carrier leg, tagged as a 12345 call) joins
    ``queue``; the agent's softphone on the peer answers over SIP. Returns the live call as the desk sees it."""
    return await agent_answers(center, await citizen_calls(center, queue), extension, timeout)


async def citizen_calls(center: Center, queue: str = GENERAL_QUEUE) -> str:
    """The first half of ``citizen_reaches_agent``: the citizen's call enters ``queue``; returns its call id."""
    cid = center.new_call_id()
    await center.ami.originate(
        "Local/s@hotline-queue", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid, data="600",
        variables={f"__{v.QUEUE}": queue, f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
    return cid


async def agent_answers(center: Center, cid: str, extension: str, timeout: float = 30, since: int = 0) -> LiveCall:
    """The second half: the agent's softphone answers call ``cid`` (its first AgentConnect from ``since`` on)."""
    connect = await center.events.wait_for(
        lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, timeout,
        f"agent {extension} answers call {cid}", since=since)
    assert connect["DestChannel"].startswith(f"PJSIP/{extension}-"), connect["DestChannel"]
    return LiveCall(call_id=cid, citizen_channel=connect["Channel"], agent_channel=connect["DestChannel"],
                    agent=extension)


async def hang_up_call(center: Center, call: LiveCall) -> None:
    """End whatever is left of the call on the center (the citizen's Local pair first)."""
    for event in [e for e in center.events.events if e.name == "Newchannel" and e.get("Linkedid") == call.call_id]:
        with contextlib.suppress(Exception):
            await center.ami.hangup(event["Channel"])


@contextlib.asynccontextmanager
async def logged_in(center: Center, extension: str, queues: list[str] | None = None):
    """The agent's softphone is registered and the agent is logged in (over AMI) for the block."""
    reg = await wait_registered(center, extension)
    assert reg.registered, f"softphone {extension} is not registered"
    await agents.login(center.ami, extension, queues or [GENERAL_QUEUE])
    try:
        yield extension
    finally:
        await agents.logout(center.ami, extension)


async def hang_up_everything(center: Center) -> None:
    """End every channel still up on the center (between scenarios of one session)."""
    for event in await center.ami.action_list({"Action": "CoreShowChannels"}):
        if event.name == "CoreShowChannel":
            with contextlib.suppress(Exception):
                await center.ami.hangup(event["Channel"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not [e for e in await center.ami.action_list({"Action": "CoreShowChannels"}) if e.name == "CoreShowChannel"]:
            return
        await asyncio.sleep(0.2)
