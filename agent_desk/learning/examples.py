"""Training examples from the desk's closed tickets (已办结).

An example is a closed ticket's text (title and content, as ``suggest.features.join_title`` joins them), its
context (where it came from: :func:`context_of`) and a label:

- topic: the ticket's topic as the agent confirmed it on the form (``tickets.topic``); tickets without one, or
  with a topic no longer in the topic list, are left out;
- unit: the code of the unit that finally handled it. That is ``tickets.host_unit_id`` of the closed ticket: a
  return (退单) clears the host and the re-dispatch sets the next one, a consultation (会商) sets the decided
  unit as host (and as ``settled_unit_id``), so when the ticket closes the host is the unit whose reply closed
  it. Directly resolved tickets (直接办结, no host) and tickets whose host is retired (inactive in the org tree)
  are left out: the model must never suggest a unit that no longer exists.

The context has the keys of ``suggest.features.CONTEXT_KEYS``: ``subplatform`` (the ticket's sub-platform
code), ``county`` and ``town`` (org-unit codes of the district and town its location lies in) and ``line``
(the 123xx number the call came in on). The desk computes the same for a new ticket with :func:`context_of`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.db import models as m
from agent_desk.supervision.org import OrgIndex
from hotline.reference import topic_names
from hotline.vocab import TicketState
from suggest.features import join_title

BATCH = 2000


@dataclass
class Examples:
    """Parallel lists; ``closed_through`` is the latest closing time among them (None: no example)."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    contexts: list[dict[str, str]] = field(default_factory=list)
    ticket_ids: list[int] = field(default_factory=list)
    closed_at: list[dt.datetime] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)   # why tickets were left out, and how many

    def add(self, ticket_id: int, text: str, label: str, context: dict[str, str], closed_at: dt.datetime) -> None:
        self.ticket_ids.append(ticket_id)
        self.texts.append(text)
        self.labels.append(label)
        self.contexts.append(context)
        self.closed_at.append(closed_at)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    @property
    def closed_through(self) -> dt.datetime | None:
        return max(self.closed_at) if self.closed_at else None


def context_of(org: OrgIndex, subplatform: str | None, location_unit_id: int | None,
               line: str | None) -> dict[str, str]:
    """Where an appeal came from, as the models read it (keys ``subplatform``, ``county``, ``town``, ``line``)."""
    context: dict[str, str] = {}
    if subplatform:
        context["subplatform"] = subplatform
    if location_unit_id is not None:
        county, town = org.area_of(location_unit_id, "county"), org.area_of(location_unit_id, "town")
        if county is not None:
            context["county"] = county.code
        if town is not None:
            context["town"] = town.code
    if line:
        context["line"] = line
    return context


def _closed_tickets(session: Session) -> Iterator[tuple[int, str, str, str, str | None, int | None, str | None,
                                                        int | None, dt.datetime | None]]:
    query = (select(m.Ticket.id, m.Ticket.title, m.Ticket.content, m.Ticket.topic, m.Ticket.subplatform,
                    m.Ticket.location_unit_id, m.Ticket.source_line, m.Ticket.host_unit_id, m.Ticket.closed_at)
             .where(m.Ticket.state == TicketState.CLOSED.value).order_by(m.Ticket.id))
    for row in session.execute(query.execution_options(yield_per=BATCH)):
        yield tuple(row)  # type: ignore[misc]


def closed_ticket_examples(session: Session,
                           progress: Callable[[str], None] = lambda _: None) -> dict[str, Examples]:
    """``{"topic": Examples, "unit": Examples}`` from every closed ticket, in ticket order."""
    org = OrgIndex.load(session)
    active = {code for code, in session.execute(select(m.OrgUnit.code).where(m.OrgUnit.active.is_(True)))}
    topics = set(topic_names())
    found = {"topic": Examples(), "unit": Examples()}
    n = 0
    for ticket_id, title, content, topic, subplatform, location, line, host, closed_at in _closed_tickets(session):
        n += 1
        text = join_title(title or "", content or "")
        if not text:
            found["topic"].skip("no_text")
            found["unit"].skip("no_text")
            continue
        context = context_of(org, subplatform, location, line)
        when = closed_at or dt.datetime.min
        if not topic:
            found["topic"].skip("no_topic")
        elif topic not in topics:
            found["topic"].skip("topic_retired")
        else:
            found["topic"].add(ticket_id, text, topic, context, when)
        node = org.nodes.get(host) if host is not None else None
        if node is None:
            found["unit"].skip("no_host_unit")
        elif node.code not in active:
            found["unit"].skip("unit_retired")
        else:
            found["unit"].add(ticket_id, text, node.code, context, when)
        if n % 10000 == 0:
            progress(f"read {n} closed tickets")
    progress(f"read {n} closed tickets: {len(found['topic'].texts)} with a topic, "
             f"{len(found['unit'].texts)} with an active host unit")
    return found
