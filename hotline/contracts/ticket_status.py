"""Ticket progress for the IVR's self-service query (工单进度查询). The desk writes, the IVR only reads.

One Redis hash per ticket, ``KEY`` (``key(number)``), fields of ``TicketStatus``:

    v            the contract version
    state        one of STATE_TEXT (the desk's ticket lifecycle state)
    state_label  the state in Chinese, e.g. 已派单
    unit_name    the handling unit (承办单位) in Chinese; may be empty
    due_at       ISO 8601 with a timezone; may be empty
    updated_at   ISO 8601

A ticket number is 14 digits: the acceptance date YYYYMMDD and a 6-digit sequence (20261122000123).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from pydantic import field_validator

from hotline.contracts.base import Payload, text_fields
from hotline.vocab import TicketState

KEY = "hotline:ticket-status:{number}"
NUMBER_LENGTH = 14

STATE_TEXT = TicketState.labels()   # what the caller hears for each state: the desk's own labels
STATES = tuple(STATE_TEXT)
FINISHED_STATES = frozenset({"refused", "closed"})  # no deadline is read for these


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


def _aware(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None   # the contract says: with a timezone


class TicketStatus(Payload):
    CONTRACT: ClassVar[str] = "ticket_status"

    number: str = ""          # not stored in the hash (it is in the key)
    state: str
    state_label: str = ""
    unit_name: str = ""
    due_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @field_validator("due_at", "updated_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> dt.datetime | None:
        if value is None or isinstance(value, dt.datetime):
            return value
        return _aware(str(value))

    @classmethod
    def from_hash(cls, number: str, fields: dict[Any, Any]) -> TicketStatus:
        return cls.decode({**text_fields(fields), "number": number})

    def to_hash(self) -> dict[str, str]:
        """The hash as the desk writes it."""
        return {
            "v": str(self.v),
            "state": self.state,
            "state_label": self.state_label or STATE_TEXT.get(self.state, ""),
            "unit_name": self.unit_name,
            "due_at": self.due_at.isoformat() if self.due_at else "",
            "updated_at": self.updated_at.isoformat() if self.updated_at else "",
        }
