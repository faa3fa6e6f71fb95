"""The ASR client's overload policy (ivr.asr.client): when an agent-side phrase is shed before it is queued, how the
pool's pace is measured, and the deadline after which a phrase counts as lost. Redis here is a fake that knows only
the calls a submit makes and raises on anything else; tests/component/test_asr_pool.py runs the real thing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from hotline.contracts.asr import COMPUTE_ALLOWANCE, JOB_CLASSES, STATS_KEY, PhraseJob, deadline, job_class
from ivr.asr.client import AGENT_SHED_FLOOR, AsrClient, Pace, agent_overloaded


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pace_counts_the_window_only_and_a_young_client_is_not_diluted():
    clock = Clock()
    pace = Pace(window=30.0, clock=clock)
    clock.now += 5
    for _ in range(10):
        pace.record()
    assert pace.rate() == pytest.approx(10 / 5)      # 10 phrases in the 5 s the client has run
    clock.now += 40
    assert pace.rate() == 0.0                         # all older than the window


def test_agent_phrases_are_shed_only_far_beyond_what_the_pool_keeps_up_with():
    agent_age = job_class("agent").max_age
    assert not agent_overloaded(AGENT_SHED_FLOOR - 1, rate=0.0), "a cold start or quiet pool never sheds"
    assert agent_overloaded(AGENT_SHED_FLOOR, rate=0.0), "nothing finishing and a backlog: shed"
    rate = 3.0   # phrases/s: the pool finishes 12 within the agent's max_age
    assert not agent_overloaded(int(2 * rate * agent_age) - 1, rate=rate)
    assert agent_overloaded(int(2 * rate * agent_age), rate=rate)


def test_every_class_waits_its_max_age_plus_the_compute_allowance():
    for c in JOB_CLASSES:
        assert deadline(c.priority) == c.max_age + COMPUTE_ALLOWANCE
    assert COMPUTE_ALLOWANCE * 1000 > 5_000, "room for a claim after a worker died, and the redo"
    assert [c.priority for c in JOB_CLASSES] == ["waiting", "citizen", "agent"]
    assert job_class("agent").max_age < job_class("citizen").max_age < job_class("waiting").max_age


class FakePipeline:
    def __init__(self, log: list[tuple]):
        self.log = log
        self.queued: list[tuple] = []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def xadd(self, stream, fields, maxlen, approximate):
        self.queued.append(("xadd", stream, PhraseJob.decode(fields["job"]).job_id))

    def hincrby(self, key, field, amount):
        assert key == STATS_KEY and amount == 1
        self.queued.append(("hincrby", field))

    async def execute(self) -> list:
        self.log.extend(self.queued)
        return [1] * len(self.queued)

    def __getattr__(self, name):
        raise AssertionError(f"unexpected pipeline call {name}")


class FakeRedis:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    def pipeline(self, transaction: bool) -> FakePipeline:
        assert transaction
        return FakePipeline(self.log)

    def __getattr__(self, name):
        raise AssertionError(f"unexpected Redis call {name}")


def job(priority, seq: int) -> PhraseJob:
    return PhraseJob(job_id=uuid.uuid4().hex, call_id="c", speaker="agent" if priority == "agent" else "citizen",
                     seq=seq, phase="conversation", priority=priority, reply_to="elsewhere")


async def test_an_agent_phrase_is_shed_at_once_behind_a_backlog_and_a_citizens_still_queued():
    redis = FakeRedis()
    client = AsrClient(redis, "ms-1")   # type: ignore[arg-type]
    for seq in range(AGENT_SHED_FLOOR):
        await client.submit(job("citizen", seq), b"\0\0")
    assert client.backlog == AGENT_SHED_FLOOR
    assert all(entry[0] != "xadd" or entry[1] == job_class("citizen").stream for entry in redis.log)
    shed = await client.submit(job("agent", 0), b"\0\0")
    assert shed.done() and shed.result().status == "shed" and "backlog" in shed.result().error
    citizen = await client.submit(job("citizen", 99), b"\0\0")
    assert not citizen.done() and client.backlog == AGENT_SHED_FLOOR + 1
    await asyncio.sleep(0)   # the shed's counters are written in the background
    assert redis.log.count(("hincrby", "shed")) == 1
    assert sum(1 for entry in redis.log if entry[0] == "xadd") == AGENT_SHED_FLOOR + 1, "the agent's never queued"
    await client.stop()
    assert citizen.result().status == "lost" and client.backlog == 0
