"""Personal data: masking, and the audit of every read of it.

Who may read a ticket at all, and whether its contact is shown unmasked, is decided in
``agent_desk.auth.need_to_know`` (one rule for every read path). Lists and searches always show masked
values. Every read of a ticket (single reads, each search or list request, each pop) and every refused
attempt is written to the audit log with who, what and why (``reason``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from agent_desk.auth.sessions import Principal
from agent_desk.db.base import utcnow
from agent_desk.db.models import AuditEntry
from hotline.privacy import mask_phone  # the one helper, re-exported for the desk

__all__ = ["audit", "mask_name", "mask_phone"]


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def audit(session: Session, who: Principal, action: str, object_type: str, object_id: str, detail: str = "",
          client: str = "", reason: str = "") -> None:
    session.add(AuditEntry(at=utcnow(), user_id=who.user_id, username=who.username, role=who.role.value,
                           action=action, object_type=object_type, object_id=object_id, detail=detail,
                           client=client, reason=reason))
