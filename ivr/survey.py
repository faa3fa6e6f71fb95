"""The callback survey (满意度评价) a caller hears when the agent hung up first, and where its result goes.

The dialplan's queues run with Queue's ``c`` option: when the agent's side of the call ends and the
caller is still there, the dialplan goes on to the survey context, which runs the AGI route ``survey``.
The caller presses 1 满意, 2 基本满意 or 3 不满意; a wrong key or a timeout re-prompts ``attempts`` - 1 times.

The result goes to the desk as a ``hotline.contracts.survey.SurveyEntry`` on its stream (the contract says
what each field means). ``no_answer`` is written whenever the survey was offered but got no valid key: the
caller let every prompt time out, kept pressing wrong keys, or hung up during the survey (the desk can tell
"offered, not answered" from "never offered", which has no entry). A caller who hangs up before the agent
does is never surveyed. If Redis is down the entry is spooled (``ivr.spool``) and ``drain_spool`` adds it
later.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from hotline.contracts.survey import (BASICALLY_SATISFIED, NO_ANSWER, RESULTS, SATISFIED, STREAM, STREAM_MAXLEN,
                                      UNSATISFIED, SurveyEntry)
from ivr.channel import Channel, ChannelHangup
from ivr.spool import ResultStream

__all__ = ["BASICALLY_SATISFIED", "CHOICES", "NO_ANSWER", "RESULTS", "SATISFIED", "STREAM", "UNSATISFIED",
           "SurveyConfig", "SurveyEntry", "SurveyStore", "run_survey"]

log = logging.getLogger(__name__)

CHOICES = {"1": SATISFIED, "2": BASICALLY_SATISFIED, "3": UNSATISFIED}


class SurveyStore(ResultStream):
    """The survey's results on ``STREAM`` (``ivr.spool.ResultStream``: the spool when Redis is down)."""

    def __init__(self, redis: Redis | None, spool: Path, maxlen: int = STREAM_MAXLEN, max_age_days: int | None = None):
        # maxlen: site.yaml retention.survey_stream_maxlen; max_age_days: retention.survey_stream_days
        super().__init__(redis, spool, STREAM, maxlen, max_age_days)

    async def record(self, record: SurveyEntry) -> str:
        """Store one result; returns "redis", "spool" or "lost". Never raises: it runs as the caller leaves."""
        # The caller's number stays out of the stream: the desk has it on the call (call_id), and the stream
        # and the spool are kept longer than the call needs it.
        return await self.put(record.call_id or f"survey-{record.at}", {**record.to_fields(), "caller": ""})


class SurveyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    invalid: str
    thanks: str
    goodbye: str
    timeout_ms: int = Field(ge=1000, le=30000)
    attempts: int = Field(ge=1, le=5)


async def run_survey(channel: Channel, cfg: SurveyConfig, store: SurveyStore, sounds: str, *,
                     call_id: str, line: str, caller: str) -> SurveyEntry:
    """Ask, record (also when the caller hangs up mid-survey), thank. ChannelHangup propagates after recording."""
    pressed = ""
    result = NO_ANSWER
    try:
        for attempt in range(cfg.attempts):
            digit = await channel.collect_digits(f"{sounds}/{cfg.prompt}", 1, cfg.timeout_ms)
            pressed += digit
            if digit in CHOICES:
                result = CHOICES[digit]
                break
            if attempt + 1 < cfg.attempts:
                await channel.play(f"{sounds}/{cfg.invalid}")
    finally:
        record = SurveyEntry(call_id=call_id, line=line, caller=caller, result=result, digits=pressed)
        where = await store.record(record)
        log.info("survey of %s: %s (%r) → %s", call_id, result, pressed, where)
    try:
        await channel.play(f"{sounds}/{cfg.thanks if result != NO_ANSWER else cfg.goodbye}")
    except ChannelHangup:
        pass  # the answer is stored; a caller who leaves during the thanks is fine
    return record
