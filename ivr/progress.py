"""The IVR's ticket progress query (工单进度查询, menu 5): key a ticket number, hear its status, then an agent.

Every wait is bounded. A wrong number (not 14 digits, or no real date in front), a number the desk has
no status for, a timeout, and each further query all count against ``attempts``; when they are used up
the caller goes to an agent. Redis down (or a status the IVR cannot read) → an apology, then an agent.
After the read-back: 1 hears it again (``repeats`` times at most), 2 queries another ticket, 0 or
nothing goes to the queue. The contract with the desk (Redis key and fields) is ``ivr.ticket_status``.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

from hotline import channelvars as v
from ivr import ticket_status as ts
from ivr.channel import Channel
from redis.asyncio import Redis

log = logging.getLogger(__name__)

# How the query ended: the call goes to the queue in every case; the reason is logged for the desk.
AGENT, UNAVAILABLE, EXHAUSTED = "agent", "unavailable", "exhausted"


class ProgressConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    invalid: str
    not_found: str
    unavailable: str
    after_prompt: str
    to_agent: str
    timeout_ms: int = Field(ge=1000, le=30000)
    attempts: int = Field(ge=1, le=5)
    after_timeout_ms: int = Field(ge=1000, le=30000)
    repeats: int = Field(ge=0, le=3)


async def run_progress(channel: Channel, cfg: ProgressConfig, redis: Redis | None, sounds: str,
                       call_id: str = "") -> str:
    """The whole query for one caller; returns AGENT, UNAVAILABLE or EXHAUSTED (then the queue)."""
    for _attempt in range(cfg.attempts):
        number = await channel.collect_digits(f"{sounds}/{cfg.prompt}", ts.NUMBER_LENGTH, cfg.timeout_ms)
        if not ts.valid_number(number):
            log.info("call %s: ticket number %r is not valid", call_id, number)
            if number:
                await channel.play(f"{sounds}/{cfg.invalid}")
            continue
        try:
            status = await ts.lookup(redis, number)
        except ts.StatusUnavailable as exc:
            log.warning("call %s: ticket status of %s unavailable: %s", call_id, number, exc)
            await channel.play(f"{sounds}/{cfg.unavailable}")
            return UNAVAILABLE
        if status is None:
            log.info("call %s: no ticket %s", call_id, number)
            await channel.play(f"{sounds}/{cfg.not_found}")
            continue
        await channel.set_variable(f"__{v.TICKET}", number)  # the agent sees which ticket was asked about
        choice = await _read_back(channel, cfg, status, sounds)
        if choice != "2":
            await channel.play(f"{sounds}/{cfg.to_agent}")
            return AGENT
    await channel.play(f"{sounds}/{cfg.to_agent}")
    return EXHAUSTED


async def _read_back(channel: Channel, cfg: ProgressConfig, status: ts.TicketStatus, sounds: str) -> str:
    """Read the status, then ask what next; returns "2" (another ticket) or "0" (anything else: an agent)."""
    for _heard in range(cfg.repeats + 1):
        for sound in ts.readback(status):
            if await channel.play(f"{sounds}/{sound}", "0") == "0":
                return "0"
        choice = await channel.collect_digits(f"{sounds}/{cfg.after_prompt}", 1, cfg.after_timeout_ms)
        if choice == "2":
            return "2"
        if choice != "1":
            return "0"
    return "0"
