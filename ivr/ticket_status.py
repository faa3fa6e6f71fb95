"""Ticket progress for the IVR's self-service query (工单进度查询): the lookup and what the caller hears.

The desk writes each ticket's status to Redis; the contract (key, fields, states, their Chinese text) is
``hotline.contracts.ticket_status``. The IVR only reads.

What the caller hears is pre-rendered at install (``ivr.prompts.catalogue``), so it works the same over
FastAGI and classic AGI, in the chroot and in Docker, where the AGI process cannot always write where
Asterisk reads sounds: a prompt per state (its label from ``STATE_TEXT``, the desk's wording), the
digits, the months and the days. The unit name is free text, so it is read back only when a prompt was
rendered for it: every unit the IVR's own topic catalogue can suggest (``hotline/data/topics.yaml``, each
``{city}`` unit for every city of the gazetteer, and the provincial units), under a prompt id derived
from the name (``unit_prompt``). A unit outside that catalogue is not read: the caller hears the state and
the deadline, and an agent can tell the rest. Synthesising at call time was not chosen: espeak-ng is not
installed where classic AGI runs, and in Docker the AGI container cannot write into Asterisk's sounds.
The ``state_label`` field is for the desk's own screens; the IVR speaks the label of ``state``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from functools import lru_cache

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline.contracts import ContractMismatch
from hotline.contracts.ticket_status import (FINISHED_STATES, NUMBER_LENGTH, STATE_TEXT, STATES, TicketStatus, key,
                                             valid_number)

log = logging.getLogger(__name__)

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")  # dates are read as the caller's calendar has them

__all__ = ["FINISHED_STATES", "NUMBER_LENGTH", "STATES", "STATE_TEXT", "StatusUnavailable", "TicketStatus", "key",
           "lookup", "readback", "valid_number"]


class StatusUnavailable(Exception):
    """Redis could not be asked: the caller goes to an agent."""


async def lookup(redis: Redis | None, number: str) -> TicketStatus | None:
    """The ticket's status, or None when Redis has no status for that number.

    Raises ``StatusUnavailable`` when Redis cannot be reached, or holds a status the IVR cannot read
    (an unknown state): the caller is then better served by an agent than by "no such ticket".
    """
    if redis is None:
        raise StatusUnavailable("no Redis configured")
    try:
        fields = await redis.hgetall(key(number))
    except (RedisError, OSError) as exc:
        raise StatusUnavailable(str(exc)) from exc
    if not fields:
        return None
    try:
        status = TicketStatus.from_hash(number, fields)
    except ContractMismatch as exc:
        log.error("ticket %s: status not readable: %s", number, exc)
        raise StatusUnavailable(f"ticket {number}: {exc}") from exc
    if status.state not in STATE_TEXT:
        raise StatusUnavailable(f"ticket {number}: unknown state {status.state!r}")
    return status


# ── what the caller hears: prompt ids (rendered by ivr.prompts.catalogue) ─────────────────────────────────
DIGIT_TEXT = dict(zip("0123456789", "零一二三四五六七八九"))
DIGIT_ONE_YAO = "digit-1-yao"   # 幺: a 1 inside a number read digit by digit, as phone numbers are read


def state_prompt(state: str) -> str:
    return f"ticket-state-{state.replace('_', '-')}"


def digit_prompt(digit: str, yao: bool = False) -> str:
    return DIGIT_ONE_YAO if yao and digit == "1" else f"digit-{digit}"


def month_prompt(month: int) -> str:
    return f"month-{month}"


def day_prompt(day: int) -> str:
    return f"day-{day}"


def unit_prompt(name: str) -> str:
    """The prompt id of a unit name: derived from the text, so the IVR finds it without a table."""
    return "unit-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]


def _small_number(n: int) -> str:
    """1..31 in Chinese (十一, 二十一, 三十)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else DIGIT_TEXT[str(tens)] + "十")
    return head + (DIGIT_TEXT[str(ones)] if ones else "")


@lru_cache(maxsize=1)
def unit_names() -> frozenset[str]:
    """Every unit name with a pre-rendered prompt: the topic catalogue's units for every gazetteer city."""
    from hotline.reference import gazetteer, topics

    names: set[str] = set()
    cities = [city["name"] for city in gazetteer()]
    for topic in topics():
        names.add(topic["province_unit"])
        if "{city}" in topic["unit"]:
            names.update(topic["unit"].format(city=city) for city in cities)
        else:
            names.add(topic["unit"])
    return frozenset(names)


def prompt_texts() -> dict[str, str]:
    """Prompt id → Chinese text for the pieces of a read-back (added to the catalogue at install)."""
    texts = {state_prompt(state): label for state, label in STATE_TEXT.items()}
    texts.update({digit_prompt(d): text for d, text in DIGIT_TEXT.items()})
    texts[DIGIT_ONE_YAO] = "幺"
    texts.update({month_prompt(m): _small_number(m) + "月" for m in range(1, 13)})
    texts.update({day_prompt(d): _small_number(d) + "日" for d in range(1, 32)})
    texts.update({unit_prompt(name): name for name in unit_names()})
    return texts


def readback(status: TicketStatus, tz: dt.tzinfo = CHINA) -> list[str]:
    """The prompt ids to play, in order, for one ticket's status."""
    sounds = ["ticket-intro"] + [digit_prompt(d, yao=True) for d in status.number]
    sounds += ["ticket-state-is", state_prompt(status.state)]
    if status.unit_name and status.unit_name in unit_names():
        sounds += ["ticket-unit-is", unit_prompt(status.unit_name)]
    if status.due_at is not None and status.state not in FINISHED_STATES:
        due = status.due_at.astimezone(tz)
        sounds += ["ticket-due-is", *[digit_prompt(d) for d in f"{due.year:04d}"], "date-year",
                   month_prompt(due.month), day_prompt(due.day)]
    return sounds
