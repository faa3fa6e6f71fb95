"""A call's hand-offs (transfers, emergency linkages) in the history of its tickets: one ``transfer`` event per
entry (see ``agent_desk.calls.transfers`` for the entry's fields), written once per (TransferID, Outcome)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.store import append_note

ACTION = "transfer"


def entry_key(entry: dict[str, Any]) -> tuple[str, str] | None:
    return (entry["TransferID"], entry.get("Outcome", "")) if entry.get("TransferID") else None


def on_ticket(session: Session, ticket: m.Ticket, entry: dict[str, Any]) -> None:
    """The entry in the ticket's history, once."""
    key = entry_key(entry)
    if key is not None and any(e.action == ACTION and entry_key(e.data) == key for e in ticket.events):
        return
    at = dt.datetime.fromisoformat(entry["at"]) if entry.get("at") else dt.datetime.now(dt.UTC)
    append_note(session, ticket, ACTION, at, entry.get("Agent") or "system", lc.Role.SYSTEM, entry)


def copy_to_new_ticket(session: Session, ticket: m.Ticket, call: m.Call) -> None:
    """A ticket saved from a call that was already transferred (or handed to 110/119/120/122 by the IVR)."""
    for entry in call.transfers or []:
        on_ticket(session, ticket, entry)
