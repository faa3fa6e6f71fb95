"""The record of a call's transfers and linkages: on the call (``calls.transfers``) and in the history of
every ticket of that call (a ``transfer`` event).

Entries are the fields of the ``HotlineTransfer`` / ``HotlineLinkage`` user events (CallID, Kind, Target,
Outcome, DialStatus, Fallback, Conference, Agent, Trunk, SetupMs, TransferID) plus ``at``. The desk writes an
entry as soon as its own transfer returns, and the listener writes the same entry when the event arrives:
an entry with a TransferID is stored once per (TransferID, Outcome), whoever comes first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.tickets.transfers import entry_key, on_ticket


def record(session: Session, call_id: str, entry: dict[str, Any], at: dt.datetime) -> m.Call:
    """Store ``entry`` on the call (created if the listener has not seen it yet) and on its tickets."""
    entry = {"at": at.isoformat(), **{k: v for k, v in entry.items() if k != "at"}}
    call = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
    if call is None:
        call = m.Call(call_id=call_id, started_at=at)
        session.add(call)
    key = entry_key(entry)
    if key is None or all(entry_key(e) != key for e in call.transfers or []):
        call.transfers = [*(call.transfers or []), entry]
    session.flush()
    for ticket in session.scalars(select(m.Ticket).where(m.Ticket.call_id == call.id)):
        on_ticket(session, ticket, entry)
    return call
