"""The prefill (工单预填): what the caller said, as the draft the agent's screen pop and form show.

Written by the IVR (``ivr.prefill_store``) under ``KEY`` with a TTL and published on ``CHANNEL`` each time it
changes (listening → transcribing → final); read by the desk's listener (live updates to the agent on the
call), by the pop when the agent answers, and stored with the call.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from hotline.contracts.base import Payload

KEY = "hotline:prefill:{call_id}"
CHANNEL = "hotline:prefill"
TTL_SECONDS = 24 * 3600
FINISHED = ("final", "failed", "no_speech")

Status = Literal["listening", "transcribing", "final", "failed", "no_speech"]


def key(call_id: str) -> str:
    return KEY.format(call_id=call_id)


class Prefill(Payload):
    CONTRACT: ClassVar[str] = "prefill"

    call_id: str
    line: str = ""
    caller: str = ""
    menu_choice: str = ""
    appeal_type: str = ""
    subplatform: str = ""
    transcript: str = ""
    status: Status = "listening"
    engine: str = ""
    places: list[dict[str, Any]] = Field(default_factory=list)   # {name, level, city_code, city}
    phones: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)                # ISO dates mentioned
    topic: dict[str, Any] | None = None                           # {code, name, unit, ...}
    suggested_unit: str = ""
    emergency: str = ""
    recording: str = ""
    audio_seconds: float = 0.0
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
