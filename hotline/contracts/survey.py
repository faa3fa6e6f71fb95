"""The callback survey's result (满意度评价): one entry per surveyed call in the Redis stream ``STREAM``.

Written by the IVR's survey route (``ivr.survey``), consumed by the desk's listener through the consumer group
``DESK_GROUP`` (what a crash left unacknowledged is read again), stored on the call and its tickets.

    v        the contract version
    call_id  HOTLINE_CALL_ID (the UNIQUEID of the inbound channel)
    line     the 123xx line the call came in on
    caller   empty: the IVR leaves the caller's number out (the desk has it on the call; the stream and the
             spool outlive the call's need for it)
    result   one of RESULTS: satisfied | basically_satisfied | unsatisfied | no_answer
    digits   what the caller pressed, raw, in order ("" if nothing; "82" = a wrong 8, then 2)
    at       when the survey ended, ISO 8601 UTC

``no_answer``: the survey was offered but got no valid key (timeouts, wrong keys, or the caller hung up).
"""

from __future__ import annotations

from typing import ClassVar, Literal


from hotline.contracts.base import StreamEntry

STREAM = "hotline:surveys"
STREAM_MAXLEN = 100_000   # default cap (XADD MAXLEN ~); site.yaml retention.survey_stream_maxlen/_days trim it
DESK_GROUP = "desk"
REJECTED_STREAM = "hotline:surveys:rejected"   # entries the desk could not read (another version), kept

SATISFIED = "satisfied"                      # 满意
BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
UNSATISFIED = "unsatisfied"                  # 不满意
NO_ANSWER = "no_answer"                      # offered, no valid key (timeouts, wrong keys, hung up)
RESULTS = (SATISFIED, BASICALLY_SATISFIED, UNSATISFIED, NO_ANSWER)

Result = Literal["satisfied", "basically_satisfied", "unsatisfied", "no_answer"]



class SurveyEntry(StreamEntry):
    CONTRACT: ClassVar[str] = "survey"

    call_id: str
    line: str = ""
    caller: str = ""
    result: Result
    digits: str = ""
