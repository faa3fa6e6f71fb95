"""Ticket progress for the IVR's self-service query (工单进度查询): the contract with the desk, and the lookup.

The desk writes, the IVR only reads. One Redis hash per ticket::

    hotline:ticket-status:<number>     (KEY.format(number=...), or key(number))
      state        one of STATES (the desk's ticket lifecycle state)
      state_label  the state in Chinese, e.g. 已派单
      unit_name    the handling unit (承办单位) in Chinese; may be empty
      due_at       ISO 8601 with a timezone; may be empty
      updated_at   ISO 8601

A ticket number is 14 digits: the acceptance date YYYYMMDD and a 6-digit sequence (20261122000123).

What the caller hears is pre-rendered at install (``ivr.prompts.catalogue``), so it works the same over
FastAGI and classic AGI, in the chroot and in Docker, where the AGI process cannot always write where
Asterisk reads sounds: a prompt per state (its label from ``STATE_TEXT``, the desk's wording), the
digits, the months and the days. The unit name is free text, so it is read back only when a prompt was
rendered for it: every unit the IVR's own topic catalogue can suggest (``ivr/data/topics.yaml``, each
``{city}`` unit for every city of the gazetteer, and the provincial units), under a prompt id derived
from the name (``unit_prompt``). A unit outside that catalogue is not read: the caller hears the state and
the deadline, and an agent can tell the rest. Synthesising at call time was not chosen: espeak-ng is not
installed where classic AGI runs, and in Docker the AGI container cannot write into Asterisk's sounds.
The ``state_label`` field is for the desk's own screens; the IVR speaks the label of ``state``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from redis.exceptions import RedisError

KEY = "hotline:ticket-status:{number}"
STATE = "state"
STATE_LABEL = "state_label"
UNIT_NAME = "unit_name"
DUE_AT = "due_at"
UPDATED_AT = "updated_at"
FIELDS = (STATE, STATE_LABEL, UNIT_NAME, DUE_AT, UPDATED_AT)

# The desk's lifecycle states and what the caller hears for each (agent_desk.tickets.lifecycle.STATE_LABELS).
STATE_TEXT = {
    "accepted": "已受理",
    "refused": "不予受理",
    "dispatched": "已派单",
    "signed": "已签收",
    "return_requested": "退单审核中",
    "returned": "已退回",
    "consultation": "会商中",
    "replied": "已答复",
    "awaiting_callback": "待回访",
    "unsatisfied": "回访不满意",
    "appealed": "申诉中",
    "closed": "已办结",
}
STATES = tuple(STATE_TEXT)
FINISHED_STATES = frozenset({"refused", "closed"})  # no deadline is read for these

NUMBER_LENGTH = 14
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")  # dates are read as the caller's calendar has them


class StatusUnavailable(Exception):
    """Redis could not be asked: the caller goes to an agent."""


def key(number: str) -> str:
    return KEY.format(number=number)


def valid_number(number: str) -> bool:
    """14 digits whose first eight are a real date (YYYYMMDD)."""
    if len(number) != NUMBER_LENGTH or not number.isdigit():
        return False
    try:
        dt.datetime.strptime(number[:8], "%Y%m%d")
    except ValueError:
        return False
    return True


def _parse_time(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None  # the contract says: with a timezone


@dataclass(frozen=True)
class TicketStatus:
    number: str
    state: str
    state_label: str = ""
    unit_name: str = ""
    due_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_hash(cls, number: str, fields: dict) -> "TicketStatus":
        def text(name: str) -> str:
            value = fields.get(name, fields.get(name.encode(), ""))
            return (value.decode() if isinstance(value, bytes) else str(value or "")).strip()

        return cls(number=number, state=text(STATE), state_label=text(STATE_LABEL), unit_name=text(UNIT_NAME),
                   due_at=_parse_time(text(DUE_AT)), updated_at=_parse_time(text(UPDATED_AT)))

    def to_hash(self) -> dict[str, str]:
        """The hash as the desk writes it (for the desk's writer and the tests)."""
        return {
            STATE: self.state,
            STATE_LABEL: self.state_label or STATE_TEXT.get(self.state, ""),
            UNIT_NAME: self.unit_name,
            DUE_AT: self.due_at.isoformat() if self.due_at else "",
            UPDATED_AT: self.updated_at.isoformat() if self.updated_at else "",
        }


async def lookup(redis, number: str) -> TicketStatus | None:
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
    status = TicketStatus.from_hash(number, fields)
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
    from ivr.prefill import gazetteer, topics

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
