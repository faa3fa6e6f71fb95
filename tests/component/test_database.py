"""The desk's database on both backends (SQLite file, real PostgreSQL 15): migrations, append-only
history and audit, timezone-aware datetimes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, StatementError

from agent_desk.db import migrate
from agent_desk.db.base import Base
from agent_desk.db.models import AuditEntry, LoginAttempt, Ticket, TicketEvent
from agent_desk.db.session import Database, make_engine
from tests.conftest import BACKENDS

CST = dt.timezone(dt.timedelta(hours=8))  # 北京时间


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_upgrade_downgrade_upgrade(new_database, backend):
    url = new_database(backend, migrate=False)
    model_tables = set(Base.metadata.tables)

    migrate.upgrade(url)
    assert _tables(url) >= model_tables
    head = _revision(url)
    assert head is not None and head != "0001"

    migrate.downgrade(url, "base")
    assert _tables(url) == set()  # nothing left behind: no table, no FTS shadow table
    assert _revision(url) is None

    migrate.upgrade(url)
    assert _tables(url) >= model_tables
    assert _revision(url) == head


def _ticket_with_event(session, number: str) -> tuple[Ticket, TicketEvent]:
    now = dt.datetime.now(dt.UTC)
    ticket = Ticket(number=number, channel="phone", title="测试工单", content="自来水发黄", appeal_type="complaint",
                    state="accepted")
    session.add(ticket)
    session.flush()
    event = TicketEvent(ticket_id=ticket.id, seq=1, at=now, actor="agent1", role="agent", action="accept",
                        to_state="accepted")
    session.add(event)
    return ticket, event


def _audit_entry(session, object_id: str) -> AuditEntry:
    entry = AuditEntry(username="agent1", role="agent", action="read_personal_data", object_type="ticket",
                       object_id=object_id)
    session.add(entry)
    return entry


# table → (model, a column, its value as written, what an UPDATE tries to make it)
APPEND_ONLY = {
    "ticket_events": (TicketEvent, "actor", "agent1", "someone else"),
    "audit_log": (AuditEntry, "detail", "", "rewritten"),
}


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("statement", ["update", "delete"])
def test_history_and_audit_are_append_only(db: Database, table, statement):
    model, column, written, rewritten = APPEND_ONLY[table]
    tag = f"AO-{table[:5]}-{statement[0]}-{db.dialect[:2]}"  # a ticket number is at most 20 characters
    with db.session() as session:
        row = _ticket_with_event(session, tag)[1] if table == "ticket_events" else _audit_entry(session, tag)
    change = (update(model).where(model.id == row.id).values({column: rewritten}) if statement == "update"
              else delete(model).where(model.id == row.id))
    with pytest.raises(DBAPIError, match=f"{table} is append-only"):
        with db.session() as session:
            session.execute(change)
    with db.session() as session:
        assert session.scalar(select(getattr(model, column)).where(model.id == row.id)) == written


def test_appending_still_works(db: Database):
    with db.session() as session:
        ticket, _ = _ticket_with_event(session, f"AO-append-{db.dialect}")
        session.add(TicketEvent(ticket_id=ticket.id, seq=2, at=dt.datetime.now(dt.UTC), actor="agent1",
                                role="agent", action="dispatch", from_state="accepted", to_state="dispatched"))
    with db.session() as session:
        seqs = session.scalars(select(TicketEvent.seq).where(TicketEvent.ticket_id == ticket.id)).all()
    assert sorted(seqs) == [1, 2]


@pytest.mark.parametrize("moment", [
    dt.datetime(2024, 3, 1, 8, 30, 15, 123456, tzinfo=CST),            # Beijing time: stored as 00:30:15 UTC
    dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),  # the UTC date differs from CST's
    dt.datetime(2016, 7, 1, 0, 0, tzinfo=CST),                           # crosses midnight back to the 30th
])
def test_utc_datetime_round_trips_aware_datetimes(db: Database, moment):
    with db.session() as session:
        row = LoginAttempt(username=f"tz-{moment.isoformat()}", client="127.0.0.1", at=moment, success=True)
        session.add(row)
    with db.session() as session:
        stored = session.scalar(select(LoginAttempt.at).where(LoginAttempt.id == row.id))
    assert stored == moment
    assert stored.utcoffset() == dt.timedelta(0)
    assert stored.replace(tzinfo=None) == moment.astimezone(dt.UTC).replace(tzinfo=None)


def test_utc_datetime_refuses_naive_datetimes(db: Database):
    with pytest.raises(StatementError, match="naive datetime"):
        with db.session() as session:
            session.add(LoginAttempt(username="naive", client="127.0.0.1", at=dt.datetime(2024, 1, 1),
                                     success=False))
            session.flush()
