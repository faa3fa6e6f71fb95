"""The entry step of the 12345 flow, run for every answered inbound call before it queues.

For now it checks the facts the dialplan tagged the call with against the number plan and repairs
what it can (an unknown queue becomes the general queue), so the desk always gets a coherent call.
The IVR menus and speech prefill build on this step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE, NumberPlan
from ivr.channel import Channel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallFacts:
    """What the dialplan knows about a call when it reaches the 12345 flow."""

    call_id: str
    line: str
    line_class: str
    queue: str
    subplatform: str
    caller: str


# The order in which [hotline-entry] passes the tags as AGI() arguments (hotline/confgen, extensions.conf.j2).
ARGUMENTS = (v.CALL_ID, v.LINE, v.LINE_CLASS, v.QUEUE, v.SUBPLATFORM)


def facts_from_arguments(arguments: list[str], caller: str) -> CallFacts | None:
    """The tags as the dialplan passed them to AGI() (they arrive with the headers: no round trip), or None when
    they are not all there (a dialplan that passes none, or a tag holding a comma, which AGI() splits on)."""
    if len(arguments) != len(ARGUMENTS):
        return None
    tags = dict(zip(ARGUMENTS, arguments))
    return CallFacts(call_id=tags[v.CALL_ID], line=tags[v.LINE], line_class=tags[v.LINE_CLASS], queue=tags[v.QUEUE],
                     subplatform=tags[v.SUBPLATFORM], caller=caller)


async def read_facts(channel: Channel, caller: str) -> CallFacts:
    """The dialplan's tags, read in one round trip."""
    tags = await channel.get_variables([v.CALL_ID, v.LINE, v.LINE_CLASS, v.QUEUE, v.SUBPLATFORM])
    return CallFacts(call_id=tags[v.CALL_ID], line=tags[v.LINE], line_class=tags[v.LINE_CLASS], queue=tags[v.QUEUE],
                     subplatform=tags[v.SUBPLATFORM], caller=caller)


async def entry(channel: Channel, plan: NumberPlan, facts: CallFacts) -> CallFacts:
    """Validate the call's tags against the plan; return the facts the call continues with.

    The queue is checked against the plan's queue names as they stand (``plan.all_queues()`` builds and validates
    a model per sub-platform queue: on every call that was the entry route's second cost after the headers)."""
    queue = facts.queue
    if queue not in plan.queues and all(sp.queue != queue for sp in plan.subplatforms):   # = plan.all_queues()
        log.warning("call %s: queue %r is not in the plan, using %s", facts.call_id, queue, GENERAL_QUEUE)
        queue = GENERAL_QUEUE
        await channel.set_variable(f"__{v.QUEUE}", queue)
    subplatform = facts.subplatform
    if subplatform and plan.subplatform(subplatform) is None:
        log.warning("call %s: unknown sub-platform %r ignored", facts.call_id, subplatform)
        subplatform = ""
        await channel.set_variable(f"__{v.SUBPLATFORM}", "")
    if plan.line(facts.line) is None:
        log.warning("call %s: line %r is not in the plan", facts.call_id, facts.line)
    log.debug("12345 entry: call %s line %s queue %s", facts.call_id, facts.line, queue)   # not a round trip
    return CallFacts(facts.call_id, facts.line, facts.line_class, queue, subplatform, facts.caller)
