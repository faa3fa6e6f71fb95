"""Every FastAGI route, in one table. A route unpacks its request and calls IVR logic; nothing more.

The dialplan calls ``agi://host:port/<name>``; ``<name>`` is looked up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Awaitable, Callable

from hotline import channelvars as v
from hotline.numberplan import NumberPlan
from ivr import entry as entry_flow
from ivr.channel import Channel
from ivr.flow import IvrServices, run_ivr
from ivr.survey import run_survey


@dataclass(frozen=True)
class Services:
    """What routes may use, built once by the server's owner and passed in (no module globals)."""

    plan: NumberPlan
    ivr: IvrServices | None = None  # None: the telephony core alone (tag, validate, queue)


@dataclass(frozen=True)
class AgiCall:
    channel: Channel
    headers: dict[str, str]
    services: Services

    @property
    def caller(self) -> str:
        return self.headers.get("agi_callerid", "")


@dataclass(frozen=True)
class Route:
    handler: Callable[[AgiCall], Awaitable[None]]
    timeout: float  # seconds; the dispatcher fails the route (and the call goes to a queue) after this


async def entry(call: AgiCall) -> None:
    """The 12345 flow's entry: every answered inbound call passes here before it queues."""
    facts = await entry_flow.read_facts(call.channel, call.caller)
    facts = await entry_flow.entry(call.channel, call.services.plan, facts)
    if call.services.ivr is not None:
        sounds = await call.channel.get_variable(v.SOUNDS) or ""
        await run_ivr(call.channel, call.services.ivr, facts, sounds)


async def survey(call: AgiCall) -> None:
    """The agent hung up first and the caller is still there: the satisfaction survey (then the dialplan hangs up)."""
    ivr = call.services.ivr
    if ivr is None or ivr.surveys is None:
        return  # the telephony core alone: no survey
    facts = await entry_flow.read_facts(call.channel, call.caller)
    sounds = await call.channel.get_variable(v.SOUNDS) or ""
    await run_survey(call.channel, ivr.flows.survey, ivr.surveys, sounds,
                     call_id=facts.call_id, line=facts.line, caller=facts.caller)


ROUTES: dict[str, Route] = {
    "entry": Route(entry, timeout=600),
    "survey": Route(survey, timeout=90),
}
