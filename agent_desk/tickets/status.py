"""The ticket-status projection the IVR reads for self-service progress queries (hash in Redis).

After every commit that changed tickets, their status (state, its Chinese label, the host unit's name and the
deadline: nothing personal) is written to Redis. If Redis is down the change is logged and the IVR sends the
caller to an agent; ``rebuild`` rewrites every ticket's status (``hotline run`` does it at start).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import RedisError
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from hotline.contracts import ticket_status as contract

log = logging.getLogger(__name__)
PENDING = "hotline_status_changed"
READY = "hotline_status_ready"


def remember(session: Session, number: str) -> None:
    """Mark a ticket whose status must be projected once this unit of work commits."""
    session.info.setdefault(PENDING, set()).add(number)


def fields_of(row: m.Ticket) -> dict[str, str]:
    return contract.TicketStatus(state=row.state, state_label=lc.STATE_LABELS[lc.State(row.state)],
                                 unit_name=row.host_unit.name if row.host_unit else "", due_at=row.due_at,
                                 updated_at=row.updated_at).to_hash()


class StatusProjection:
    def __init__(self, client: redis.Redis | None):
        self.client = client

    def install(self, factory: sessionmaker[Session]) -> None:
        # Read inside the committing session (before_commit), write to Redis after it (after_commit): a
        # second session here would need a second pooled connection per write and can starve the pool.
        event.listen(factory, "before_commit", self._before_commit)
        event.listen(factory, "after_commit", self._after_commit)
        event.listen(factory, "after_rollback", lambda session: session.info.pop(READY, None))

    def _before_commit(self, session: Session) -> None:
        numbers = session.info.pop(PENDING, None)
        if not numbers or self.client is None:
            return
        rows = session.scalars(select(m.Ticket).options(selectinload(m.Ticket.host_unit))
                               .where(m.Ticket.number.in_(numbers))).all()
        session.info[READY] = {row.number: fields_of(row) for row in rows}

    def _after_commit(self, session: Session) -> None:
        ready = session.info.pop(READY, None)
        if ready:
            self._write(ready)

    def write(self, rows: Sequence[m.Ticket]) -> int:
        return self._write({row.number: fields_of(row) for row in rows})

    def _write(self, statuses: dict[str, dict[str, str]]) -> int:
        if self.client is None:
            return 0
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for number, fields in statuses.items():
                    mapping: dict[Any, Any] = fields   # redis-py's key type is invariant over str | bytes
                    pipe.hset(contract.key(number), mapping=mapping)
                pipe.execute()
        except RedisError as exc:
            log.warning("ticket status not projected to Redis (%s): %s", exc, ", ".join(statuses))
            return 0
        return len(statuses)

    def rebuild(self, session: Session, batch: int = 1000) -> int:
        done, last = 0, 0
        while True:
            rows = session.scalars(select(m.Ticket).options(selectinload(m.Ticket.host_unit))
                                   .where(m.Ticket.id > last).order_by(m.Ticket.id).limit(batch)).all()
            if not rows:
                return done
            done += self.write(rows)
            last = rows[-1].id
