"""并单 candidates before saving: the open tickets a new appeal (any channel, any caller) may be the same matter as.

The similarity is ``suggest.duplicates.candidates`` (same place, within its window, similar content); this module
chooses what it compares, from the database:

- **which tickets**: open tickets whose answer is still to come (the states that may host a merge,
  ``lifecycle.HOST_STATES``), not themselves merged, of the same sub-platform, accepted within the window
  (``suggest.duplicates.WINDOW`` before now), newest first, at most ``POOL`` of them. One query, served by the
  index ``ix_tickets_subplatform_state_id`` (sub-platform, state, id); when the form's place lies in a town or
  county, only tickets there (or placed no finer than the sub-platform) are taken; the town and county of each come from
  the org tree (``OrgIndex``, loaded once per request), so ``candidates`` compares at the finest level both
  appeals know;
- **the place**: the form's sub-platform, else the sub-platform of its place (``location_unit``); no place at all
  gives no candidates (similar words in two unknown places are not one matter), said in ``note``. The names of
  the place (嘉积镇, 琼海市) are left out of the comparison: every appeal there shares them. The first
  ``TEXT_CHARS`` characters of title + content are compared (the matter is said first; the cost of the
  comparison grows with the length: a full pool of 500 took 0.5-0.8 s per request on a loaded 2-core box,
  most of it the n-gram analysis of ``suggest.similarity``; the panel asks in the background, debounced).

A candidate is case data the agent may not otherwise read (another agent's ticket, another caller). It shows only
what deciding needs: number, title, the area (town/county), the place with its digits hidden (the road, not the
door), accepted time, state, score and the shared words; the contact is masked. Agents and supervisors only;
every request writes one audit row: the numbers shown and why (``duplicate_candidates`` with the place).
Bad input (empty or foreign text, no place) gives no candidates, never an error that could hold up a save.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent_desk.auth.privacy import audit, mask_name, mask_phone
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.org import Node, OrgIndex
from agent_desk.tickets import lifecycle as lc
from suggest.duplicates import WINDOW, Appeal, candidates

POOL = 500          # open tickets of one place and window compared at most (the newest)
TEXT_CHARS = 300    # of title + content compared: what the matter is comes first, and the cost grows with length
REASON = "duplicate_candidates"
NOTE_NO_PLACE = "未填写地点（分平台或镇街），无法查找可能重复的诉求"
NOTE_NO_TEXT = "请先填写标题或诉求内容"
_DIGITS = re.compile(r"[0-9０-９]")


class DuplicateQuery(BaseModel):
    """What the agent has typed so far (nothing is saved)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field("", max_length=128)
    content: str = Field("", max_length=20_000)
    subplatform: str | None = Field(None, max_length=32, description="市县分平台代码")
    location_unit: str | None = Field(None, max_length=64, description="地点所在单位（镇街、区县）的代码")
    exclude: str | None = Field(None, pattern=r"^\d{14}$", description="不列出的工单（查看已保存的工单时为其自身）")
    limit: int = Field(5, ge=1, le=10)


def find(session: Session, who: Principal, query: DuplicateQuery, client: str = "",
         now: dt.datetime | None = None) -> dict[str, Any]:
    if who.role not in (Role.AGENT, Role.SUPERVISOR):
        raise DeskError(403, "forbidden_role", "只有话务员和平台人员可以查找可能重复的诉求")
    now = now or dt.datetime.now(PROVINCE_TZ)
    index = OrgIndex.load(session)
    place: Node | None = None
    if query.location_unit:
        if query.location_unit not in index.by_code:
            raise DeskError(422, "unknown_unit", f"地点“{query.location_unit[:20]}”不在组织架构中")
        place = index.nodes[index.by_code[query.location_unit]]
    subplatform = query.subplatform or (place.subplatform if place is not None else None)
    text = f"{query.title}\n{query.content}".strip()[:TEXT_CHARS]
    answer: dict[str, Any] = {"items": [], "place_known": bool(subplatform), "window_days": WINDOW.days, "note": None}
    if not subplatform:
        answer["note"] = NOTE_NO_PLACE
        return answer
    if not text:
        answer["note"] = NOTE_NO_TEXT
        return answer

    stmt = (select(m.Ticket).where(m.Ticket.subplatform == subplatform,
                                   m.Ticket.state.in_(sorted(s.value for s in lc.HOST_STATES)),
                                   m.Ticket.merged_into_id.is_(None), m.Ticket.linked_to_id.is_(None),
                                   m.Ticket.created_at >= now - WINDOW)
            .order_by(m.Ticket.id.desc()).limit(POOL))
    if query.exclude:
        stmt = stmt.where(m.Ticket.number != query.exclude)
    area_known = (index.area_of(place.id, "town") or index.area_of(place.id, "county")) if place else None
    if area_known is not None:
        # Only tickets that can be in the same place: in that area, or placed no finer than the sub-platform
        # (``candidates`` then compares at the level both know). Keeps the pool to the area, not the city.
        stmt = stmt.where(or_(m.Ticket.location_unit_id.in_(sorted(index.subtree(area_known.id))),
                              m.Ticket.location_unit_id.is_(None),
                              m.Ticket.location_unit_id.not_in(sorted(_placed_finer(index, subplatform)))))
    rows = {row.number: row for row in session.scalars(stmt)}
    place_id = place.id if place is not None else None
    new = _appeal("", text, subplatform, place_id, now, index)
    pool = [_appeal(row.number, f"{row.title}\n{row.content}"[:TEXT_CHARS], subplatform, row.location_unit_id,
                    row.created_at, index) for row in rows.values()]
    area = index.area_of(place_id, "town") or index.area_of(place_id, "county")
    ignore = index.names_around(area) if area is not None else [
        index.display_name(index.nodes[index.by_code[subplatform]])] if subplatform in index.by_code else []
    found = candidates(new, pool, limit=query.limit, ignore=ignore)

    items = []
    for candidate in found:
        row = rows[str(candidate.id)]
        areas = [index.area_of(row.location_unit_id, level) for level in ("town", "county")]
        items.append({
            "number": row.number, "title": row.title,
            "place": "".join(index.display_name(a) for a in reversed(areas) if a is not None) or None,
            "location": _DIGITS.sub("*", row.location),
            "created_at": row.created_at.isoformat(), "state": row.state,
            "state_label": lc.STATE_LABELS[lc.State(row.state)],
            "score": candidate.score, "reasons": list(candidate.reasons),
            "citizen_name": mask_name(row.citizen_name), "citizen_phone": mask_phone(row.citizen_phone),
            "contact_masked": True,
        })
    audit(session, who, "read_duplicate_candidates", "ticket_search", "duplicates",
          json.dumps({"numbers": [i["number"] for i in items], "compared": len(rows),
                      "shown": "number,title,place,location(digits hidden),created_at,state,score,reasons"},
                     ensure_ascii=False, sort_keys=True),
          client, f"{REASON} subplatform={subplatform}" + (f" place={query.location_unit}" if place else ""))
    answer["items"] = items
    return answer


def _appeal(number: str, text: str, subplatform: str, unit_id: int | None, at: dt.datetime,
            index: OrgIndex) -> Appeal:
    town, county = index.area_of(unit_id, "town"), index.area_of(unit_id, "county")
    return Appeal(id=number, text=text, subplatform=subplatform, county=county.code if county else "",
                  town=town.code if town else "", at=at)


def _placed_finer(index: OrgIndex, subplatform: str) -> set[int]:
    """The org units of the sub-platform that lie in a town or county (a ticket placed there has an area)."""
    return {node_id for node_id in index.nodes
            if index.nodes[node_id].subplatform == subplatform
            and (index.area_of(node_id, "town") or index.area_of(node_id, "county")) is not None}
