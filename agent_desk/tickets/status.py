"""The ticket-status projection the IVR reads for self-service progress queries (hash in Redis).

After every commit that changed tickets, their status (state, its Chinese label, the host unit's name and the
deadline: nothing personal) is written to Redis. If Redis is down the change is logged and the IVR sends the
caller to an agent; ``rebuild`` rewrites every ticket's status (``hotline run`` does it at start).

并单: a merged ticket still waiting for its host reads 已并单 with the host's unit and deadline (the citizen
hears who handles the matter and by when), and is projected again whenever its host changes.
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


def fields_of(row: m.Ticket, host: m.Ticket | None = None) -> dict[str, str]:
    """``host``: the ticket a merged ticket waits for, whose unit and deadline it reads."""
    handled = host if host is not None and row.state == lc.State.MERGED.value else row
    return contract.TicketStatus(state=row.state, state_label=lc.STATE_LABELS[lc.State(row.state)],
                                 unit_name=handled.host_unit.name if handled.host_unit else "",
                                 due_at=handled.due_at, updated_at=row.updated_at).to_hash()


def _with_hosts(session: Session, rows: Sequence[m.Ticket]) -> dict[str, dict[str, str]]:
    """The status of ``rows`` and of the tickets still waiting on any of them (并单), each merged one with its host."""
    ids = [row.id for row in rows]
    waiting = session.scalars(select(m.Ticket).where(m.Ticket.merged_into_id.in_(ids),
                                                     m.Ticket.state == lc.State.MERGED.value)).all() if ids else []
    everything = {row.id: row for row in [*rows, *waiting]}
    host_ids = {row.merged_into_id for row in everything.values() if row.merged_into_id is not None}
    missing = host_ids - everything.keys()
    hosts = dict(everything)
    if missing:
        hosts.update({row.id: row for row in session.scalars(select(m.Ticket).options(selectinload(m.Ticket.host_unit))
                                                             .where(m.Ticket.id.in_(missing)))})
    return {row.number: fields_of(row, hosts.get(row.merged_into_id) if row.merged_into_id else None)
            for row in everything.values()}


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
        session.info[READY] = _with_hosts(session, rows)

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
            done += self._write({number: fields for number, fields in _with_hosts(session, rows).items()
                                 if number in {row.number for row in rows}})
            last = rows[-1].id
