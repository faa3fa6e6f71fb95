"""The versioned payload every contract's model derives from."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError


class ContractMismatch(ValueError):
    """A payload this side cannot read: another contract version (a mixed deployment) or a malformed one."""


class Payload(BaseModel):
    """A contract payload: ``v`` is the contract version it was written under."""

    model_config = ConfigDict(extra="ignore")
    VERSION: ClassVar[int] = 1
    CONTRACT: ClassVar[str] = ""

    v: int = 0

    def model_post_init(self, _context: Any) -> None:
        if self.v == 0:
            self.v = self.VERSION

    @classmethod
    def decode(cls, data: str | bytes | dict[str, Any]) -> Self:
        """Read a payload (JSON text or fields); ``ContractMismatch`` unless it is this version and well formed."""
        try:
            fields = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
        except ValueError as exc:
            raise ContractMismatch(f"{cls.CONTRACT}: not JSON ({exc})") from None
        if not isinstance(fields, dict):
            raise ContractMismatch(f"{cls.CONTRACT}: not an object")
        written = str(fields.get("v", "0"))
        if written != str(cls.VERSION):
            raise ContractMismatch(f"{cls.CONTRACT}: written under version {written}, this side reads version "
                                   f"{cls.VERSION} (a mixed deployment: upgrade both sides)")
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ContractMismatch(f"{cls.CONTRACT}: malformed ({exc.error_count()} problems: "
                                   f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']})") from None

    def encode(self) -> str:
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def text_fields(fields: dict[Any, Any]) -> dict[str, str]:
    """Redis hashes and stream entries read without decode_responses: bytes → str."""
    return {(k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in fields.items()}


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class StreamEntry(Payload):
    """A payload handed over as a Redis stream entry (flat text fields), stamped ``at`` when it was written."""

    at: str = ""

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if not self.at:
            self.at = utc_now()

    @classmethod
    def from_fields(cls, fields: dict[Any, Any]) -> Self:
        return cls.decode(text_fields(fields))

    def to_fields(self) -> dict[str, str]:
        return {name: str(value) for name, value in self.model_dump().items()}

    @property
    def at_time(self) -> dt.datetime:
        """``at`` as a time (now, when it is unreadable; UTC when it names no zone)."""
        try:
            at = dt.datetime.fromisoformat(self.at)
        except ValueError:
            return dt.datetime.now(dt.UTC)
        return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
