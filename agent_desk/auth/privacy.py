"""Personal data: who sees a citizen's name and phone unmasked, and the audit of every such read.

Lists and searches always show masked values. The detail of a ticket or a call shows them unmasked only to:
- the agent who took the call or created the ticket (they talk to the citizen);
- supervisors (platform review and callbacks);
- staff of the ticket's host or co-host unit, unless the citizen asked for confidentiality (保密).
Administrators manage users and data, not cases: always masked. Every unmasked read is written to the audit log.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db.models import AuditEntry, Ticket, utcnow


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def may_see_ticket_contact(who: Principal, ticket: Ticket, answered_by: int | None) -> bool:
    if who.role == Role.SUPERVISOR:
        return True
    if who.role == Role.AGENT:
        return who.user_id in (ticket.created_by_id, answered_by)
    if who.role == Role.UNIT:
        mine = who.unit_id is not None and (who.unit_id == ticket.host_unit_id or who.unit_id in ticket.co_unit_ids)
        return mine and not ticket.confidential
    return False


def audit(session: Session, who: Principal, action: str, object_type: str, object_id: str, detail: str = "",
          client: str = "") -> None:
    session.add(AuditEntry(at=utcnow(), user_id=who.user_id, username=who.username, role=who.role.value,
                           action=action, object_type=object_type, object_id=object_id, detail=detail,
                           client=client))
