"""Queue-first intake (the default) and the listening legs: no menu in front of a human. The entry route chooses
the queue without asking and the call joins it at once; the caller describes the matter while waiting, on the
listening leg.

The queue: the line's own (expert seats, special lines) or, for the general queue, the sub-platform tier of the
caller's remembered city, else of their number's exchange (``hotline/data/caller_areas.yaml``), else the
province. When the live transcript is on, the call is marked for listening legs and its prefill starts as
``listening``: the agent's pop shows it filling as the caller speaks.

``run_listening`` runs on a listening leg (AGI route ``listen``): the citizen's from the queue on, the agent's
from the answer on; each hands its audio to an ``ivr.listen.ListenSession`` until the call ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass

from hotline import channelvars as v
from hotline.contracts.prefill import Prefill
from hotline.numberplan import GENERAL_QUEUE
from hotline.reference import subplatform_of_number
from ivr.channel import Channel, ChannelHangup, still_up
from ivr.entry import CallFacts
from ivr.flow import IvrServices, remembered_city
from ivr.listen import ListenSession

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 50   # audio connections one listening leg may make (it reconnects after a dropped one)
MEMORY_WAIT = 0.3   # seconds the remembered city may take (a local Redis answers in well under a millisecond)


async def choose_subplatform(services: IvrServices, facts: CallFacts) -> tuple[str, str]:
    """(sub-platform code, how it was chosen: line | remembered | number | province)."""
    if facts.subplatform:
        return facts.subplatform, "line"
    if facts.queue != GENERAL_QUEUE:
        return "", "line"   # a special line's own queue: no city tier
    try:   # the caller is between the greeting and the queue: a slow or dead Redis must not hold them there
        remembered = await asyncio.wait_for(remembered_city(services, facts.caller), MEMORY_WAIT)
    except TimeoutError:
        log.warning("call %s: city memory too slow; choosing by number", facts.call_id)
        remembered = ""
    if remembered:
        return remembered, "remembered"
    by_number = subplatform_of_number(facts.caller)
    if by_number and services.plan.subplatform(by_number) is not None:
        return by_number, "number"
    return "", "province"


@dataclass(frozen=True)
class QueueChoice:
    """What queue-first decided: the channel variables the dialplan queues the call by, and the prefill started
    (None: no live transcript). The variables are set by the caller, with the AGI route's status in one command."""

    variables: dict[str, str]
    prefill: Prefill | None


async def queue_first(services: IvrServices, facts: CallFacts) -> QueueChoice:
    """Choose the queue and mark the call for listening; nothing is sent to the channel here."""
    subplatform, chosen_by = await choose_subplatform(services, facts)
    log.info("call %s: queue %s, sub-platform %s (%s)", facts.call_id, facts.queue, subplatform or "-", chosen_by)
    prefill = None
    if services.live_transcript:
        prefill = Prefill(call_id=facts.call_id, line=facts.line, caller=facts.caller, subplatform=subplatform,
                          status="listening", engine="asr-pool")
        # Stored in the background (the store spools when Redis is down): the caller goes on to the queue now.
        task = asyncio.create_task(_start(services, prefill))
        services.background.add(task)
        task.add_done_callback(services.background.discard)
    return QueueChoice({f"__{v.SUBPLATFORM}": subplatform, f"__{v.LIVE}": "1" if prefill is not None else ""}, prefill)


async def _start(services: IvrServices, prefill: Prefill) -> Prefill:
    try:
        await services.store.save(prefill)
    except Exception:
        log.exception("call %s: prefill not started", prefill.call_id)
    return prefill


async def run_listening(channel: Channel, services: IvrServices) -> None:
    """Hand this leg's audio to a listening session until the call ends. Sets HOTLINE_EMERGENCY when the caller,
    still waiting, described an emergency: the dialplan then takes the call out of the queue to the hand-off."""
    if services.audiosocket is None:
        return
    call_id = await channel.get_variable(v.CALL_ID) or ""
    side = await channel.get_variable(v.SIDE) or ""
    if not call_id or side not in ("citizen", "agent"):
        log.warning("listening leg without a call (%r) or side (%r): nothing to do", call_id, side)
        return
    prefill = None
    if side == "citizen" and call_id.startswith(v.CALLBACK_ID_PREFIX):
        # an agent's 回拨: no entry route stored a prefill, so the leg starts listening at once (the first "喂")
        prefill = Prefill(call_id=call_id, line=await channel.get_variable(v.LINE) or "", status="listening")
    elif side == "citizen":
        for _ in range(10):   # the entry route stores it in the background, a moment before the leg starts
            prefill = await services.store.load(call_id)
            if prefill is not None:
                break
            await asyncio.sleep(0.1)
        if prefill is None:   # Redis down, or an older entry: the prefill starts here
            prefill = Prefill(call_id=call_id, line=await channel.get_variable(v.LINE) or "", status="listening")
        elif prefill.status != "listening":
            prefill = None    # the menu flow's description owns it (its transcript may still be finishing)
    else:
        await services.transcripts.mark_answered(call_id, time.time())
    session = ListenSession(call_id=call_id, speaker="citizen" if side == "citizen" else "agent", asr=services.asr,
                            transcripts=services.transcripts, prefill=prefill, today=dt.date.today(),
                            prefills=services.store if prefill else None)
    for _attempt in range(MAX_CONNECTIONS):
        key = services.audiosocket.expect(session)
        connections = session.connections
        try:
            await channel.exec("AudioSocket", f"{key},{services.audiosocket.address}")
        except ChannelHangup:
            pass   # the call ended: the session finishes with what it heard
        finally:
            services.audiosocket.forget(key)
        await session.idle()   # the server may still be taking the connection's last frames
        if session.connections == connections or session.emergency or not await still_up(channel):
            break
        # The connection dropped while the leg is still up (AudioSocket() gives up after 2 s without traffic,
        # e.g. when this process was starved of CPU): connect again and carry on with the same session.
        log.warning("call %s %s: listening connection dropped; reconnecting", call_id, side)
    if not session.started:
        log.info("call %s %s: the listening leg ended before its audio connected", call_id, side)
        return
    result = await session.finish()
    if result.emergency:
        try:
            await channel.set_variable(v.EMERGENCY, result.emergency)
        except ChannelHangup:
            pass
