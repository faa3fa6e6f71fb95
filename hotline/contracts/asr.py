"""Speech as a service: phrases to transcribe, and what came of them, over Redis Streams.

The media server (``agi_scripts.listen``) cuts each captured side of a call into phrases and adds one job per
phrase to the stream of its priority class (``JOB_STREAMS``, most urgent first). ASR workers (``hotline asr
worker``, any number of processes on any number of machines) read them through the consumer group ``GROUP``,
always from the most urgent stream that has work, and answer on the stream named in the job's ``reply_to``
(one per media server). A job a dead worker left pending is claimed by another worker after ``CLAIM_IDLE_MS``;
one delivered ``MAX_DELIVERIES`` times is answered ``lost``. A job older than its class's ``max_age`` when a
worker reaches it is answered ``shed`` without being transcribed: under overload the agent's side goes first,
then the conversation's citizen side, and the waiting caller's description last. Call audio and queue order
never depend on any of this.

Job entry fields: ``job`` (a ``PhraseJob`` as JSON) and ``audio`` (8 kHz 16-bit mono PCM, raw bytes).
Reply entry fields: ``result`` (a ``PhraseResult`` as JSON).

The media server waits for a phrase's result at most ``deadline(priority)`` seconds (its class's ``max_age`` plus
``COMPUTE_ALLOWANCE``: time for a claim after a worker died and one phrase's compute) and then counts it ``lost``;
a result that comes later is ignored. Ages compare the media server's ``enqueued_at`` with the worker's clock:
machines of one pool keep their clocks in step (NTP).
"""

from __future__ import annotations

import time
from typing import ClassVar, Literal

from pydantic import Field

from hotline.contracts.base import Payload
from hotline.contracts.transcript import Phase, Speaker

GROUP = "asr-workers"
STATS_KEY = "hotline:asr:stats"              # hash: counters (jobs, ok, shed, lost, failed) for the wallboard
WORKERS_KEY = "hotline:asr:workers"          # hash: worker name → last heartbeat JSON (load, jobs done)
REPLY_PREFIX = "hotline:asr:replies:"        # + media server id
JOB_STREAM_MAXLEN = 10_000
REPLY_STREAM_MAXLEN = 10_000
CLAIM_IDLE_MS = 5_000
MAX_DELIVERIES = 2
COMPUTE_ALLOWANCE = 10.0   # seconds a result may take beyond max_age: CLAIM_IDLE_MS plus one phrase's compute
JOB_FIELD, AUDIO_FIELD, RESULT_FIELD = "job", "audio", "result"   # stream entry field names

Priority = Literal["waiting", "citizen", "agent"]


class JobClass(Payload):
    CONTRACT: ClassVar[str] = "asr-class"

    priority: Priority
    stream: str
    max_age: float   # seconds in the queue after which the phrase is shed rather than transcribed


# Most urgent first. The waiting caller's description fills the agent's pop; the conversation's citizen side
# fills the form; the agent's side is the record of what the center said.
JOB_CLASSES: tuple[JobClass, ...] = (
    JobClass(priority="waiting", stream="hotline:asr:jobs:waiting", max_age=60.0),
    JobClass(priority="citizen", stream="hotline:asr:jobs:citizen", max_age=8.0),
    JobClass(priority="agent", stream="hotline:asr:jobs:agent", max_age=4.0),
)
JOB_STREAMS: tuple[str, ...] = tuple(c.stream for c in JOB_CLASSES)


def job_class(priority: Priority) -> JobClass:
    return next(c for c in JOB_CLASSES if c.priority == priority)


def deadline(priority: Priority) -> float:
    """Seconds after submitting a phrase when its media server stops waiting and counts it ``lost``."""
    return job_class(priority).max_age + COMPUTE_ALLOWANCE


def priority_of(speaker: Speaker, phase: Phase) -> Priority:
    if speaker == "agent":
        return "agent"
    return "waiting" if phase == "waiting" else "citizen"


class PhraseJob(Payload):
    CONTRACT: ClassVar[str] = "asr-job"

    job_id: str
    call_id: str
    speaker: Speaker
    seq: int = Field(ge=0)
    phase: Phase
    priority: Priority
    start: float = 0.0
    end: float = 0.0
    reply_to: str
    enqueued_at: float = Field(default_factory=time.time)   # epoch seconds
    prompt: str = ""      # words to bias recognition towards (places, units): the engine may ignore it


ResultStatus = Literal["ok", "shed", "lost", "failed"]


class PhraseResult(Payload):
    CONTRACT: ClassVar[str] = "asr-result"

    job_id: str
    call_id: str
    speaker: Speaker
    seq: int
    status: ResultStatus
    text: str = ""
    engine: str = ""
    worker: str = ""
    queued_seconds: float = 0.0
    compute_seconds: float = 0.0
    error: str = ""
