"""Callers' numbers in what people read outside the case (logs, lists): masked, one helper for both sides.

``mask_phone("13812345678") == "138****5678"``; the desk's screens (``agent_desk.auth.privacy``) and every log line
of the IVR and the desk that names a caller use it.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

# Fields that carry a caller's number: contract payloads (caller, phones) and AMI headers.
PHONE_FIELDS = frozenset({"caller", "phone", "phones", "callerid", "calleridnum", "connectedlinenum",
                          "ani", "from_number", "agi_callerid"})


def mask_phone(phone: str) -> str:
    digits = str(phone).strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def masked(fields: Mapping[Any, Any]) -> dict[Any, Any]:
    """``fields`` with every phone-number field masked (for a log line)."""
    def one(key: Any, value: Any) -> Any:
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name.lower() not in PHONE_FIELDS:
            return value
        if isinstance(value, (list, tuple)):
            return [mask_phone(v.decode() if isinstance(v, bytes) else v) for v in value]
        return mask_phone(value.decode() if isinstance(value, bytes) else value)
    return {key: one(key, value) for key, value in fields.items()}


def describe(event: Any) -> str:
    """An event for a log line without its caller: its type and call id (an AMI event, a tracker event)."""
    facts = getattr(event, "facts", None)
    call_id = getattr(facts, "call_id", "") or getattr(event, "call_id", "")
    name = getattr(event, "name", "") or type(event).__name__
    return f"{name} (call {call_id})" if call_id else str(name)
