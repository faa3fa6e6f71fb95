"""The ticket-status projection the IVR reads for self-service progress queries (hash in Redis).

After every commit that changed tickets, their status (state, its Chinese label, the host unit's name and the
deadline: nothing personal) is written to Redis. If Redis is down the change is logged and the IVR sends the
caller to an agent; ``rebuild`` rewrites every open ticket's status once Redis is back.
"""

from __future__ import annotations

import logging

import redis
from redis.exceptions import RedisError
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc

log = logging.getLogger(__name__)
PENDING = "hotline_status_changed"


def status_key(number: str) -> str:  # TODO(lead): import from ivr.ticket_status once it lands
    return f"hotline:ticket-status:{number}"


def status_fields(**fields: str) -> dict[str, str]:
    return fields


def remember(session: Session, number: str) -> None:
    """Mark a ticket whose status must be projected once this unit of work commits."""
    session.info.setdefault(PENDING, set()).add(number)


def fields_of(row: m.Ticket) -> dict[str, str]:
    return status_fields(state=row.state, state_label=lc.STATE_LABELS[lc.State(row.state)],
                         unit_name=row.host_unit.name if row.host_unit else "",
                         due_at=row.due_at.isoformat() if row.due_at else "", updated_at=row.updated_at.isoformat())


class StatusProjection:
    def __init__(self, client: redis.Redis | None):
        self.client = client

    def install(self, factory: sessionmaker) -> None:
        event.listen(factory, "after_commit", self._after_commit)
        event.listen(factory, "after_rollback", lambda session: session.info.pop(PENDING, None))

    def _after_commit(self, session: Session) -> None:
        numbers = session.info.pop(PENDING, None)
        if not numbers or self.client is None:
            return
        with Session(session.get_bind()) as reader:
            rows = reader.scalars(select(m.Ticket).options(selectinload(m.Ticket.host_unit))
                                  .where(m.Ticket.number.in_(numbers))).all()
            self.write(rows)

    def write(self, rows: list[m.Ticket]) -> int:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for row in rows:
                    pipe.hset(status_key(row.number), mapping=fields_of(row))
                pipe.execute()
        except RedisError as exc:
            log.warning("ticket status not projected to Redis (%s): %s", exc, ", ".join(r.number for r in rows))
            return 0
        return len(rows)

    def rebuild(self, session: Session, batch: int = 1000) -> int:
        done, last = 0, 0
        while True:
            rows = session.scalars(select(m.Ticket).options(selectinload(m.Ticket.host_unit))
                                   .where(m.Ticket.id > last).order_by(m.Ticket.id).limit(batch)).all()
            if not rows:
                return done
            done += self.write(rows)
            last = rows[-1].id
