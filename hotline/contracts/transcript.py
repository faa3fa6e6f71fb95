"""The live transcript of a call: speaker-labelled turns, from the caller's wait to the hang-up.

Written by the IVR side's media server (``agi_scripts.listen``), one turn per phrase, in each speaker's
order: appended to the stream ``key(call_id)`` (capped, with the prefill's TTL) and published on ``CHANNEL``.
Read by the desk's listener, which forwards each turn to the agent on the call (and supervisors listening)
and stores it with the call; a desk that was down reads the stream back.

    call_id   HOTLINE_CALL_ID of the inbound call
    speaker   citizen | agent
    seq       the phrase's number within its speaker (0, 1, ...): turns of one speaker arrive in order
    phase     waiting (in the queue, before an agent answered) | conversation
    start     seconds since the capture of this call began, where the phrase started
    end       seconds since the capture began, where the phrase ended
    text      what was said ("" when status is not ok)
    status    ok | shed (transcription was skipped under load) | lost (a worker died or timed out; the
              audio is kept in the call's recording) | no_engine (no speech engine on this site)
    engine    the speech engine that produced the text
    at        when the turn was written, ISO 8601 UTC
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from hotline.contracts.base import Payload

KEY = "hotline:transcript:{call_id}"
CHANNEL = "hotline:transcript"
TTL_SECONDS = 24 * 3600
MAXLEN = 2000   # turns kept per call (a two-hour call is well under this)

Speaker = Literal["citizen", "agent"]
Phase = Literal["waiting", "conversation"]
Status = Literal["ok", "shed", "lost", "no_engine"]
SPEAKERS: tuple[Speaker, ...] = ("citizen", "agent")


ANSWERED_KEY = "hotline:transcript:{call_id}:answered"   # epoch seconds the agent answered (set by the agent's leg)


def key(call_id: str) -> str:
    return KEY.format(call_id=call_id)


def answered_key(call_id: str) -> str:
    return ANSWERED_KEY.format(call_id=call_id)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Turn(Payload):
    CONTRACT: ClassVar[str] = "transcript"

    call_id: str
    speaker: Speaker
    seq: int = Field(ge=0)
    phase: Phase = "conversation"
    start: float = 0.0
    end: float = 0.0
    text: str = ""
    status: Status = "ok"
    engine: str = ""
    at: str = Field(default_factory=utc_now)
