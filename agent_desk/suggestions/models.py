"""The suggestion outcome table: what was suggested for a ticket when the agent saved it, and what was chosen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from agent_desk.db.base import Base, utcnow


class SuggestionOutcome(Base):
    """One row per ticket saved with suggestions shown (采纳记录). ``topics``/``units`` hold the top-3 as shown:
    ``[{"code", "confidence", "rule"}]``, best first. The outcomes say what the agent did with them:
    ``top1`` (took the first), ``other`` (took the second or third), ``overridden`` (chose something else),
    ``none`` (left it empty). The unit's outcome at save is the unit the agent put on the form; the ticket's host
    unit after dispatch, returns and 改派 is read from ``tickets`` when acceptance is reported."""

    __tablename__ = "suggestion_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16))            # model | rules
    model_version: Mapped[str] = mapped_column(String(64), default="")
    topics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    units: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    topic_chosen: Mapped[str] = mapped_column(String(64), default="")
    topic_outcome: Mapped[str] = mapped_column(String(16), default="none")
    unit_chosen: Mapped[str] = mapped_column(String(64), default="")
    unit_outcome: Mapped[str] = mapped_column(String(16), default="none")
