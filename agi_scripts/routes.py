"""Every FastAGI route, in one table. A route unpacks its request and calls IVR logic; nothing more.

The dialplan calls ``agi://host:port/<name>``; ``<name>`` is looked up here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hotline import channelvars as v
from hotline.numberplan import NumberPlan
from ivr import entry as entry_flow
from ivr.channel import Channel
from ivr.flow import IvrServices, emergency_target, run_ivr
from ivr.intake import queue_first, run_listening
from ivr.progress import run_progress
from ivr.revisit import Ears, matter_of, run_revisit
from ivr.survey import run_survey


@dataclass(frozen=True)
class Services:
    """What routes may use, built once by the server's owner and passed in (no module globals)."""

    plan: NumberPlan
    ivr: IvrServices | None = None  # None: the telephony core alone (tag, validate, queue)
    revisit_by_voice: bool = False  # site speech.revisit_by_voice: 智能回访 also listens (needs ivr.speech)


@dataclass(frozen=True)
class AgiCall:
    channel: Channel
    headers: dict[str, str]
    services: Services
    # Variables the dialplan reads only after the route returned: the dispatcher sets them with the route's
    # status, in the one command that ends the request (``EXEC MSet``). A route that fails sets none of them.
    results: dict[str, str] = field(default_factory=dict)

    @property
    def caller(self) -> str:
        return self.headers.get("agi_callerid", "")

    @property
    def arguments(self) -> list[str]:
        """The AGI() arguments after the script (``agi_arg_1``, ...): they arrive with the headers, no round trip."""
        found: list[str] = []
        while (value := self.headers.get(f"agi_arg_{len(found) + 1}")) is not None:
            found.append(value)
        return found


@dataclass(frozen=True)
class Route:
    handler: Callable[[AgiCall], Awaitable[None]]
    timeout: float  # seconds; the dispatcher fails the route (and the call goes to a queue) after this


async def entry(call: AgiCall) -> None:
    """The 12345 flow's entry: every answered inbound call passes here before it queues.

    The dialplan passes the call's tags as the AGI() arguments (``[hotline-entry]``), so a queue-first call costs
    Asterisk one AGI command: the ``MSet`` of the queue's choice with the route's status (BENCHMARKS, issue 17)."""
    facts = entry_flow.facts_from_arguments(call.arguments, call.caller)
    if facts is None:   # a dialplan that passes no tags (an older config): read them
        facts = await entry_flow.read_facts(call.channel, call.caller)
    facts = await entry_flow.entry(call.channel, call.services.plan, facts)
    ivr = call.services.ivr
    if ivr is None:
        return
    if ivr.intake.mode_of(facts.line) == "queue":
        choice = await queue_first(ivr, facts)
        call.results.update(choice.variables)
        return
    sounds = await call.channel.get_variable(v.SOUNDS) or ""
    await run_ivr(call.channel, ivr, facts, sounds)


async def listen(call: AgiCall) -> None:
    """A listening leg (``[hotline-listen]``): its audio goes to the live transcript for the rest of the call."""
    if call.services.ivr is not None:
        await run_listening(call.channel, call.services.ivr)


async def emergency(call: AgiCall) -> None:
    """Key 9 while waiting: which emergency service (the dialplan already holds the default)."""
    ivr = call.services.ivr
    if ivr is None:
        return
    sounds = await call.channel.get_variable(v.SOUNDS) or ""
    await call.channel.set_variable(v.EMERGENCY, await emergency_target(call.channel, ivr.flows.emergency, sounds))


async def progress(call: AgiCall) -> None:
    """Key 5 while waiting: 工单进度查询; the dialplan then puts the caller back where they were in the queue."""
    ivr = call.services.ivr
    if ivr is None:
        return
    sounds = await call.channel.get_variable(v.SOUNDS) or ""
    call_id = await call.channel.get_variable(v.CALL_ID) or ""
    await run_progress(call.channel, ivr.flows.progress, ivr.tickets, sounds, call_id)


async def survey(call: AgiCall) -> None:
    """The agent hung up first and the caller is still there: the satisfaction survey (then the dialplan hangs up)."""
    ivr = call.services.ivr
    if ivr is None or ivr.surveys is None:
        return  # the telephony core alone: no survey
    facts = await entry_flow.read_facts(call.channel, call.caller)
    sounds = await call.channel.get_variable(v.SOUNDS) or ""
    await run_survey(call.channel, ivr.flows.survey, ivr.surveys, sounds,
                     call_id=facts.call_id, line=facts.line, caller=facts.caller)


async def revisit(call: AgiCall) -> None:
    """智能回访 on the IVR half of an automated outbound call: read out, ask, record; key 0 → the dialplan queues."""
    ivr = call.services.ivr
    if ivr is None or ivr.revisits is None:
        raise RuntimeError("revisit needs the IVR's Redis (the telephony core alone cannot record a verdict)")
    found = await call.channel.get_variables([v.SOUNDS, v.OUT_ID, v.REVISIT_TICKET, v.REVISIT_TOPIC])
    topic_id, unit_id = await matter_of(ivr.tickets, found[v.REVISIT_TICKET], found[v.REVISIT_TOPIC])
    # Spoken answers where the site wants them and this media server has a speech engine and AudioSocket.
    voice = call.services.revisit_by_voice and ivr.speech is not None and ivr.audiosocket is not None
    ears = Ears(ivr.speech, ivr.audiosocket) if voice and ivr.speech and ivr.audiosocket else None
    entry = await run_revisit(call.channel, ivr.revisits, found[v.SOUNDS], out_id=found[v.OUT_ID],
                              ticket=found[v.REVISIT_TICKET], topic_id=topic_id, unit_id=unit_id, ears=ears)
    await call.channel.set_variable(v.REVISIT_NEXT, "agent" if entry.result == "to_agent" else "")


ROUTES: dict[str, Route] = {
    "entry": Route(entry, timeout=600),
    "survey": Route(survey, timeout=90),
    "listen": Route(listen, timeout=6 * 3600),    # lives as long as the call
    "emergency": Route(emergency, timeout=30),
    "progress": Route(progress, timeout=300),
    "revisit": Route(revisit, timeout=300),
}
