"""智能回访's result: one entry per automated 回访 call the citizen answered, in the Redis stream ``STREAM``.

Written by the IVR's ``revisit`` route (``ivr.revisit``), consumed by the desk (``agent_desk.callbacks.revisit``)
through the consumer group ``DESK_GROUP`` (an entry is acknowledged only once it is stored, so a crash reads it
again), and written into the ticket's lifecycle by the province's rules there.

    v          the contract version
    out_id     the call's id (HOTLINE_OUT_ID: the desk's campaign item knows it; its events and recording carry it)
    ticket     the ticket number the call was about
    result     one of RESULTS (below)
    solved     "yes" | "no" | "" (not asked or not answered)
    digits     what the citizen pressed, raw, in order ("" if nothing)
    said       what the speech engine heard of the answers given by voice, in order, " / " between answers ("" if
               none: keys only); kept so a person reviewing a voice verdict can see what it was taken from
    at         when the call's questions ended, ISO 8601 UTC

results:
    satisfied | basically_satisfied | unsatisfied   the satisfaction key (1 / 2 / 3), after a solved key (1 / 2)
    no_answer    the citizen answered the phone but gave no valid key (timeouts, keys out of range, hung up)
    opted_out    key 9: 不再回访 (the citizen asks not to be called back)
    to_agent     key 0: the citizen asked for an agent (handed to the queue; the agent records what follows)

No number goes into the stream: the desk has it on the ticket.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from hotline.contracts.base import StreamEntry
from hotline.contracts.survey import BASICALLY_SATISFIED, NO_ANSWER, SATISFIED, UNSATISFIED

STREAM = "hotline:revisits"
STREAM_MAXLEN = 100_000
DESK_GROUP = "desk"
REJECTED_STREAM = "hotline:revisits:rejected"   # entries the desk could not read (another version), kept

# satisfied 满意, basically_satisfied 基本满意, unsatisfied 不满意, no_answer: the survey's words (one vocabulary)
OPTED_OUT = "opted_out"                      # 不再回访
TO_AGENT = "to_agent"                        # 转人工
__all__ = ["BASICALLY_SATISFIED", "DESK_GROUP", "NO_ANSWER", "OPTED_OUT", "REJECTED_STREAM", "RESULTS", "SATISFIED",
           "STREAM", "STREAM_MAXLEN", "TO_AGENT", "UNSATISFIED", "RevisitEntry"]
RESULTS = (SATISFIED, BASICALLY_SATISFIED, UNSATISFIED, NO_ANSWER, OPTED_OUT, TO_AGENT)

Result = Literal["satisfied", "basically_satisfied", "unsatisfied", "no_answer", "opted_out", "to_agent"]


class RevisitEntry(StreamEntry):
    CONTRACT: ClassVar[str] = "revisit"

    out_id: str = Field(min_length=1, max_length=40)
    ticket: str = Field(pattern=r"^\d{14}$")
    result: Result
    solved: Literal["yes", "no", ""] = ""
    digits: str = Field(default="", max_length=32)
    said: str = Field(default="", max_length=200)
