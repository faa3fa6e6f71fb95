"""智能回访: the automated callback call, on the IVR half of ``Local/s@hotline-outbound``.

The desk originates ``Local/s@hotline-outbound`` (the citizen dialled over the carrier with 12345 as caller ID,
within the trunk's limit) with this route on the other half ([hotline-revisit]); it runs once the citizen
answered. The citizen hears, in order: this is 12345 回访 (``revisit-intro``), the ticket number digit by digit,
the matter (the ticket's topic and its host unit, each from a pre-rendered prompt: no free-text speech), then two
questions by key:

- 是否解决: 1 已解决, 2 未解决;
- 满意度: 1 满意, 2 基本满意, 3 不满意.

At any question 0 hands the citizen to an agent (``to_agent``; the dialplan queues them) and 9 records 不再回访
(``opted_out``). A key out of range or no key re-prompts, ``ATTEMPTS`` tries in all, then the call ends as
``no_answer`` (as does hanging up mid-way). The result goes to the desk on the Redis stream of
``hotline.contracts.revisit`` (spooled when Redis is down, and moved on by the media server's periodic drain,
``agi_scripts.app``); the desk writes it into the ticket's lifecycle by the province's rules
(``agent_desk.callbacks.revisit``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from redis.asyncio import Redis

from hotline.contracts.revisit import (BASICALLY_SATISFIED, NO_ANSWER, OPTED_OUT, SATISFIED, STREAM, STREAM_MAXLEN,
                                       TO_AGENT, UNSATISFIED, RevisitEntry)
from hotline.paths import PROJECT_ROOT
from ivr import ticket_status as ts
from ivr.channel import Channel, ChannelHangup
from ivr.spool import ResultStream

log = logging.getLogger(__name__)

AGENT_KEY, OPT_OUT_KEY = "0", "9"
SOLVED_KEYS = {"1": "yes", "2": "no"}
SATISFACTION_KEYS = {"1": SATISFIED, "2": BASICALLY_SATISFIED, "3": UNSATISFIED}
ATTEMPTS = 3            # tries per question (the first and two re-prompts)
TIMEOUT_MS = 6000       # the wait for a key after each question
ESCAPES = "0123456789*#"
TOPICS = PROJECT_ROOT / "hotline" / "data" / "topics.yaml"


@dataclass(frozen=True)
class Prompts:
    """The prompt ids the call plays (texts in ``ivr/prompts.yaml``)."""

    intro: str = "revisit-intro"            # 这里是12345热线回访，您反映的工单编号是
    matter: str = "revisit-matter"          # 反映的事项是
    unit: str = "revisit-unit"              # 承办单位是
    solved: str = "revisit-solved"          # 是否已解决: 1 / 2, 0 人工, 9 不再回访
    satisfaction: str = "revisit-satisfaction"
    invalid: str = "ivr-invalid"
    thanks: str = "revisit-thanks"
    opted_out: str = "revisit-opted-out"
    to_agent: str = "please-hold"
    goodbye: str = "revisit-goodbye"


PROMPTS = Prompts()


def topic_prompt(code: str) -> str:
    """The prompt id of a topic (``hotline/data/topics.yaml`` code, e.g. 03-water)."""
    return f"topic-{code}"


def topic_names() -> dict[str, str]:
    data = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))
    return {t["code"]: t["name"] for t in data["topics"]}


def prompt_texts() -> dict[str, str]:
    """The topic prompts the call reads the matter with (rendered with the catalogue, ``ivr.prompts``)."""
    return {topic_prompt(code): name for code, name in topic_names().items()}


def matter_prompts(topic: str | None, unit_name: str | None) -> tuple[str, str]:
    """(topic prompt id, unit prompt id) for a ticket, "" where no prompt is rendered (that part is not read)."""
    topic_id = topic_prompt(topic) if topic and topic in topic_names() else ""
    unit_id = ts.unit_prompt(unit_name) if unit_name and unit_name in ts.unit_names() else ""
    return topic_id, unit_id


async def matter_of(tickets: Redis | None, ticket: str, topic: str) -> tuple[str, str]:
    """(topic prompt id, unit prompt id) of the ticket: its topic from the call, its host unit from the ticket's
    status the desk keeps in Redis (a status that cannot be read just leaves the unit out)."""
    try:
        status = await ts.lookup(tickets, ticket)
    except ts.StatusUnavailable as exc:
        log.warning("回访 of %s: no unit to read (%s)", ticket, exc)
        status = None
    return matter_prompts(topic, status.unit_name if status is not None else None)


def readout(ticket: str, topic_id: str, unit_id: str, prompts: Prompts = PROMPTS) -> list[str]:
    """What the citizen hears before the questions, in order (prompt ids)."""
    sounds = [prompts.intro] + [ts.digit_prompt(d, yao=True) for d in ticket]
    if topic_id:
        sounds += [prompts.matter, topic_id]
    if unit_id:
        sounds += [prompts.unit, unit_id]
    return sounds


class RevisitStore(ResultStream):
    """The 回访 results on ``STREAM`` (``ivr.spool.ResultStream``: the spool when Redis is down)."""

    def __init__(self, redis: Redis | None, spool: Path, maxlen: int = STREAM_MAXLEN):
        super().__init__(redis, spool, STREAM, maxlen)

    async def record(self, entry: RevisitEntry) -> str:
        """"redis", "spool" or "lost"; never raises (it runs as the citizen leaves)."""
        return await self.put(entry.out_id, entry.to_fields())


@dataclass
class _Answers:
    digits: str = ""
    solved: str = ""
    result: str = NO_ANSWER


async def _ask(channel: Channel, sounds: str, prompt: str, valid: dict[str, str], prompts: Prompts,
               answers: _Answers) -> str | None:
    """One question: the valid key's value, AGENT_KEY / OPT_OUT_KEY, or None (no valid key after ATTEMPTS)."""
    for attempt in range(ATTEMPTS):
        digit = await channel.collect_digits(f"{sounds}/{prompt}", 1, TIMEOUT_MS)
        answers.digits += digit
        if digit in (AGENT_KEY, OPT_OUT_KEY):
            return digit
        if digit in valid:
            return valid[digit]
        if attempt + 1 < ATTEMPTS:
            await channel.play(f"{sounds}/{prompts.invalid}")
    return None


async def _questions(channel: Channel, sounds: str, ticket: str, topic_id: str, unit_id: str, prompts: Prompts,
                     answers: _Answers) -> None:
    for sound in readout(ticket, topic_id, unit_id, prompts):
        key = await channel.play(f"{sounds}/{sound}", escape_digits=AGENT_KEY + OPT_OUT_KEY)
        if key:   # 0 or 9 during the read-out counts as at a question
            answers.digits += key
            answers.result = TO_AGENT if key == AGENT_KEY else OPTED_OUT
            return
    solved = await _ask(channel, sounds, prompts.solved, SOLVED_KEYS, prompts, answers)
    if solved in (AGENT_KEY, OPT_OUT_KEY):
        answers.result = TO_AGENT if solved == AGENT_KEY else OPTED_OUT
        return
    if solved is None:
        return
    answers.solved = solved
    satisfaction = await _ask(channel, sounds, prompts.satisfaction, SATISFACTION_KEYS, prompts, answers)
    if satisfaction in (AGENT_KEY, OPT_OUT_KEY):
        answers.result = TO_AGENT if satisfaction == AGENT_KEY else OPTED_OUT
    elif satisfaction is not None:
        answers.result = satisfaction


async def run_revisit(channel: Channel, store: RevisitStore, sounds: str, *, out_id: str, ticket: str,
                      topic_id: str = "", unit_id: str = "", prompts: Prompts = PROMPTS) -> RevisitEntry:
    """Read out, ask, record (also when the citizen hangs up mid-way), then close the call; returns the entry.
    ``ChannelHangup`` is absorbed after recording: the citizen is gone, and the answer is kept."""
    answers = _Answers()
    try:
        await _questions(channel, sounds, ticket, topic_id, unit_id, prompts, answers)
    except ChannelHangup:
        log.info("回访 %s: the citizen hung up (%r)", out_id, answers.digits)
    finally:
        entry = RevisitEntry.model_validate({"out_id": out_id, "ticket": ticket, "result": answers.result,
                                             "solved": answers.solved, "digits": answers.digits[:32]})
        where = await store.record(entry)
        log.info("回访 %s of %s: %s solved=%r (%r) → %s", out_id, ticket, entry.result, entry.solved, entry.digits,
                 where)
    closing = {TO_AGENT: prompts.to_agent, OPTED_OUT: prompts.opted_out, NO_ANSWER: prompts.goodbye}
    try:
        await channel.play(f"{sounds}/{closing.get(entry.result, prompts.thanks)}")
    except ChannelHangup:
        pass
    return entry
