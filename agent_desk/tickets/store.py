"""Between the lifecycle (``lifecycle.Ticket``, pure) and the tables (``db.models.Ticket``): load, save, number.

The state machine never touches the database; this module copies a row into a domain ticket, lets the
lifecycle act on it, then copies the result back and appends the new history entries. Units are named by
their org code in the domain and by id in the tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.db.dialect import insert_for
from agent_desk.settings import PROVINCE_TZ
from agent_desk.tickets import lifecycle as lc

APPEND_ATTEMPTS = 20   # history writers racing for one ticket's next seq: each round one of them wins

# Fields that mean the same in both worlds and are copied as they are.
_PLAIN = ("appeal_type", "urgency", "due_at", "dispatched_at", "closed_at", "closed_on_time", "solved",
          "exclusion_basis", "direct_resolution", "final_opinion", "supervisions", "returns")


def next_number(session: Session, now: dt.datetime) -> str:
    """YYYYMMDD (province time) + a 6-digit sequence of that day: unique, and keyable on a phone."""
    day = now.astimezone(PROVINCE_TZ).strftime("%Y%m%d")
    upsert = insert_for(session)
    session.execute(upsert(m.TicketCounter).values(day=day, last=0).on_conflict_do_nothing())
    last = session.scalar(update(m.TicketCounter).where(m.TicketCounter.day == day)
                          .values(last=m.TicketCounter.last + 1).returning(m.TicketCounter.last))
    if last is None or last > 999_999:
        raise RuntimeError(f"more than 999999 tickets on {day}")
    return f"{day}{last:06d}"


class UnitCodes:
    """org code ↔ id, cached for one unit of work."""

    def __init__(self, session: Session):
        self.session = session
        self._ids: dict[str, int] = {}
        self._codes: dict[int, str] = {}

    def id(self, code: str | None) -> int | None:
        if code is None:
            return None
        if code not in self._ids:
            unit_id = self.session.scalar(select(m.OrgUnit.id).where(m.OrgUnit.code == code))
            if unit_id is None:
                raise lc.TransitionError("unknown_unit", f"单位“{code}”不存在")
            self._ids[code], self._codes[unit_id] = unit_id, code
        return self._ids[code]

    def code(self, unit_id: int | None) -> str | None:
        if unit_id is None:
            return None
        if unit_id not in self._codes:
            code = self.session.scalar(select(m.OrgUnit.code).where(m.OrgUnit.id == unit_id))
            if code is None:   # the row refers to a unit that is gone: no code to show
                return None
            self._codes[unit_id], self._ids[code] = code, unit_id
        return self._codes[unit_id]


def to_domain(row: m.Ticket, units: UnitCodes) -> lc.Ticket:
    ticket = lc.Ticket(number=row.number, appeal_type=row.appeal_type)
    for name in _PLAIN:
        setattr(ticket, name, getattr(row, name))
    ticket.state = lc.State(row.state)
    ticket.host_unit = units.code(row.host_unit_id)
    ticket.co_units = tuple(code for code in map(units.code, row.co_unit_ids) if code is not None)
    ticket.settled_unit = units.code(row.settled_unit_id)
    ticket.satisfaction = lc.Satisfaction(row.satisfaction) if row.satisfaction else None
    ticket.excluded = lc.Exclusion(row.excluded) if row.excluded else None
    ticket.refusal = lc.OutOfScope(row.refusal) if row.refusal else None
    ticket.level = lc.Level(row.level)
    ticket._state_before_return = lc.State(row.state_before_return) if row.state_before_return else None
    # 并单: the host it follows and the tickets that follow it, by number (the index on merged_into_id serves both)
    if row.merged_into_id is not None:
        ticket.merged_into = units.session.scalar(select(m.Ticket.number).where(m.Ticket.id == row.merged_into_id))
    ticket.merged = tuple(units.session.scalars(select(m.Ticket.number).where(m.Ticket.merged_into_id == row.id)
                                                .order_by(m.Ticket.id)))
    ticket.history = [
        lc.Event(e.at, e.actor, lc.Role(e.role), e.action, lc.State(e.from_state) if e.from_state else None,
                 lc.State(e.to_state), e.data)
        for e in row.events
    ]
    return ticket


def save(session: Session, row: m.Ticket, ticket: lc.Ticket, units: UnitCodes, now: dt.datetime) -> list[lc.Event]:
    """Copy the domain ticket back and append its new events; returns those events."""
    for name in _PLAIN:
        setattr(row, name, getattr(ticket, name))
    row.state = ticket.state.value
    row.host_unit_id = units.id(ticket.host_unit)
    wanted = [units.id(code) for code in ticket.co_units]
    if wanted != row.co_unit_ids:
        row.co_units = [m.TicketCoUnit(unit_id=i) for i in wanted]
    row.settled_unit_id = units.id(ticket.settled_unit)
    row.satisfaction = ticket.satisfaction.value if ticket.satisfaction else None
    row.excluded = ticket.excluded.value if ticket.excluded else None
    row.refusal = ticket.refusal.value if ticket.refusal else None
    row.level = ticket.level.value
    row.state_before_return = ticket._state_before_return.value if ticket._state_before_return else None
    row.updated_at = now
    session.flush()  # the row needs its id for new events
    new = ticket.history[len(row.events):]
    for e in new:
        _append(session, row.id, {"at": e.at, "actor": e.actor, "role": e.role.value, "action": e.action,
                                  "from_state": e.from_state.value if e.from_state else None,
                                  "to_state": e.to_state.value, "data": _jsonable(e.data)})
    if new:
        session.expire(row, ["events"])
    return new


def append_note(session: Session, row: m.Ticket, action: str, at: dt.datetime, actor: str, role: lc.Role,
                data: dict[str, Any]) -> None:
    """An event in the ticket's history that is not a transition (a survey result, a transfer of its call):
    the state stays as it is."""
    session.flush()
    _append(session, row.id, {"at": at, "actor": actor, "role": role.value, "action": action,
                              "from_state": row.state, "to_state": row.state, "data": _jsonable(data)})
    session.expire(row, ["events"])


def _append(session: Session, ticket_id: int, values: dict[str, Any]) -> None:
    """One history entry at the next ``seq`` of its ticket, computed by the INSERT itself from the table (never
    from what this unit of work loaded earlier). SQLite runs one writer at a time, so that number is free. On
    PostgreSQL two writers at the same moment (an agent's action, the IVR's survey, a transfer note) can compute
    the same one: the later INSERT fails on ``(ticket_id, seq)`` inside a savepoint, which alone is rolled
    back, and tries again with the number after the winner's."""
    next_seq = (select(func.coalesce(func.max(m.TicketEvent.seq), 0) + 1)
                .where(m.TicketEvent.ticket_id == ticket_id).scalar_subquery())
    stmt = insert(m.TicketEvent).values(ticket_id=ticket_id, seq=next_seq, **values)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(stmt)
        return
    connection = session.connection()
    for attempt in range(1, APPEND_ATTEMPTS + 1):
        try:
            # A savepoint of the connection, not of the Session: a Session savepoint's release fires the Session's
            # commit hooks (early warning, the status projection) before the unit of work has committed.
            with connection.begin_nested():
                connection.execute(stmt)
            return
        except IntegrityError:
            if attempt == APPEND_ATTEMPTS:
                raise


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in data.items()}
