"""The record of a call's transfers and linkages: on the call (``calls.transfers``) and in the history of
every ticket of that call (a ``transfer`` event).

Entries are the fields of the ``HotlineTransfer`` / ``HotlineLinkage`` user events (CallID, Kind, Target,
Outcome, DialStatus, Fallback, Conference, Agent, Trunk, SetupMs, TransferID) plus ``at``. The desk writes an
entry as soon as its own transfer returns, and the listener writes the same entry when the event arrives:
an entry with a TransferID is stored once per (TransferID, Outcome), whoever comes first.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.store import append_note

ACTION = "transfer"


def _key(entry: dict) -> tuple[str, str] | None:
    return (entry["TransferID"], entry.get("Outcome", "")) if entry.get("TransferID") else None


def record(session: Session, call_id: str, entry: dict, at: dt.datetime) -> m.Call:
    """Store ``entry`` on the call (created if the listener has not seen it yet) and on its tickets."""
    entry = {"at": at.isoformat(), **{k: v for k, v in entry.items() if k != "at"}}
    call = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
    if call is None:
        call = m.Call(call_id=call_id, started_at=at)
        session.add(call)
    key = _key(entry)
    if key is None or all(_key(e) != key for e in call.transfers or []):
        call.transfers = [*(call.transfers or []), entry]
    session.flush()
    for ticket in session.scalars(select(m.Ticket).where(m.Ticket.call_id == call.id)):
        on_ticket(session, ticket, entry)
    return call


def on_ticket(session: Session, ticket: m.Ticket, entry: dict) -> None:
    """The entry in the ticket's history, once."""
    key = _key(entry)
    if key is not None and any(e.action == ACTION and _key(e.data) == key for e in ticket.events):
        return
    at = dt.datetime.fromisoformat(entry["at"]) if entry.get("at") else dt.datetime.now(dt.timezone.utc)
    append_note(session, ticket, ACTION, at, entry.get("Agent") or "system", lc.Role.SYSTEM, entry)


def copy_to_new_ticket(session: Session, ticket: m.Ticket, call: m.Call) -> None:
    """A ticket saved from a call that was already transferred (or handed to 110/119/120/122 by the IVR)."""
    for entry in call.transfers or []:
        on_ticket(session, ticket, entry)
