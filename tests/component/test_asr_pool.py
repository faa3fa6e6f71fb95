"""The ASR pool (ivr.asr) on a real redis-server with the center's ACL users and the real Whisper base model on the
real recordings: the media server's client as the ``ivr`` user, workers as the ``asr`` user, in this process or as
``hotline asr worker`` subprocesses that get SIGKILLed mid-phrase."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import wave
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from agi_scripts.app import redis_client
from hotline import access
from hotline.contracts import prefill, transcript
from hotline.contracts.asr import GROUP, JOB_STREAMS, STATS_KEY, WORKERS_KEY, PhraseJob, Priority, job_class
from hotline.paths import PROJECT_ROOT
from ivr.asr.client import AsrClient, AsrUnavailable
from ivr.asr.worker import AsrWorker, worker_redis
from ivr.speech.audio import pcm_to_float, upsample_8k_to_16k
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from launcher.asr_pool import WorkerPool
from tests.support.cer import cer
from tests.support.redis_server import RedisServer
from tests.support.samples import references, to_8k

SHORT = ["BAC009S0150W0015", "BAC009S0150W0026", "BAC009S0150W0001"]   # about 2-3 s each


def pcm(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 8000
        return wav.readframes(wav.getnframes())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return assemble_model(tmp_path_factory.mktemp("model") / "whisper-base")


@pytest.fixture(scope="module")
def whisper(model_dir, audio) -> WhisperEngine:
    engine = WhisperEngine(model_dir)
    engine.transcribe_16k(upsample_8k_to_16k(pcm_to_float(audio[SHORT[0]])))   # the first phrase is the slowest
    return engine


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, bytes]:
    where = tmp_path_factory.mktemp("8k")
    return {name: pcm(to_8k(name, where)) for name in SHORT}


OPENED: list[aioredis.Redis | redis.Redis] = []


@pytest.fixture
async def server(tmp_path):
    """A Redis of each test's own: tests stop it, restart it and leave jobs behind."""
    started = RedisServer.start(tmp_path / "redis")
    yield started
    while OPENED:
        opened = OPENED.pop()
        if isinstance(opened, aioredis.Redis):
            await opened.aclose()
        else:
            opened.close()
    started.stop()


def ivr_redis(server: RedisServer) -> aioredis.Redis:
    """The media server's connection exactly as the IVR makes it (the ``ivr`` user, its timeouts)."""
    OPENED.append(redis_client(server.url, server.passwords[access.REDIS_IVR_SECRET]))
    return OPENED[-1]


def asr_redis(server: RedisServer) -> aioredis.Redis:
    OPENED.append(worker_redis(server.url, server.passwords[access.REDIS_ASR_SECRET]))
    return OPENED[-1]


def sync_redis(url: str, **options) -> redis.Redis:
    OPENED.append(redis.Redis.from_url(url, **options))
    return OPENED[-1]


def new_job(priority: Priority, seq: int = 0, **fields) -> PhraseJob:
    speaker = "agent" if priority == "agent" else "citizen"
    phase = "waiting" if priority == "waiting" else "conversation"
    return PhraseJob(job_id=uuid.uuid4().hex, call_id="call-1", speaker=speaker, seq=seq, phase=phase,
                     priority=priority, reply_to="", **fields)


async def stop_worker(worker: AsrWorker, task: asyncio.Task) -> None:
    worker.stop()
    await asyncio.wait_for(task, 15)


async def test_the_waiting_callers_phrase_first_then_the_citizens_then_the_agents(server, whisper, audio):
    client = AsrClient(ivr_redis(server), "ms-1")
    await client.start()
    order: list[str] = []
    futures = []
    for priority, name in zip(("agent", "citizen", "waiting"), SHORT):   # queued least urgent first
        future = await client.submit(new_job(priority), audio[name])
        future.add_done_callback(lambda f, p=priority: order.append(p))
        futures.append(future)
    assert client.backlog == 3
    # Order, not age, is what this checks: on a loaded machine two phrases' compute can pass the agent's max_age,
    # so the worker's clock stands at the submit time (shedding by age has its own test).
    submitted = time.time()
    worker = AsrWorker(asr_redis(server), whisper, "w-1", clock=lambda: submitted)
    task = asyncio.create_task(worker.run())
    results = await asyncio.wait_for(asyncio.gather(*futures), 30)
    await stop_worker(worker, task)
    await client.stop()
    assert order == ["waiting", "citizen", "agent"]
    assert [r.status for r in results] == ["ok", "ok", "ok"], results
    assert all(r.worker == "w-1" and r.engine == "whisper-base" for r in results)
    assert cer(results[0].text, references()[SHORT[0]]) <= 0.5, results[0].text
    assert client.backlog == 0
    stats = sync_redis(server.authenticated_url, decode_responses=True).hgetall(STATS_KEY)
    assert stats == {"jobs": "3", "ok": "3"}


async def test_a_phrase_older_than_its_class_allows_is_shed_untranscribed(server, whisper, audio):
    client = AsrClient(ivr_redis(server), "ms-1")
    await client.start()
    now = time.time()
    stale_citizen = await client.submit(new_job("citizen", enqueued_at=now - job_class("citizen").max_age - 1),
                                        audio[SHORT[0]])
    stale_agent = await client.submit(new_job("agent", enqueued_at=now - job_class("agent").max_age - 1),
                                      audio[SHORT[0]])
    old_waiting = await client.submit(new_job("waiting", enqueued_at=now - 30), audio[SHORT[1]])   # max_age 60
    worker = AsrWorker(asr_redis(server), whisper, "w-1")
    task = asyncio.create_task(worker.run())
    shed_c, shed_a, kept = await asyncio.wait_for(asyncio.gather(stale_citizen, stale_agent, old_waiting), 30)
    await stop_worker(worker, task)
    await client.stop()
    for shed in (shed_c, shed_a):
        assert shed.status == "shed" and shed.text == "" and shed.compute_seconds == 0.0 and shed.worker == "w-1"
    assert kept.status == "ok" and kept.text and kept.queued_seconds >= 30
    stats = sync_redis(server.authenticated_url, decode_responses=True).hgetall(STATS_KEY)
    assert stats == {"jobs": "3", "ok": "1", "shed": "2"}
    admin = sync_redis(server.authenticated_url)
    assert sum(admin.xlen(s) for s in JOB_STREAMS) == 0, "answered jobs leave Redis with their audio"


def worker_home(tmp_path: Path, server: RedisServer, model_dir: Path) -> dict[str, str]:
    """A state home for `hotline asr worker` on another "machine": the asr secret and a site file, nothing else."""
    home = tmp_path / "worker-home"
    (home / "secrets").mkdir(parents=True)
    (home / "secrets" / access.REDIS_ASR_SECRET).write_text(server.passwords[access.REDIS_ASR_SECRET] + "\n")
    site = tmp_path / "site.yaml"
    site.write_text(f"redis_url: {server.url}\nspeech:\n  engine: whisper\n  model_dir: {model_dir}\n")
    return {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(site)}


def heartbeats(admin: redis.Redis) -> dict[str, dict]:
    return {name: json.loads(beat) for name, beat in admin.hgetall(WORKERS_KEY).items()}


async def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_killed_mid_phrase_leaves_it_to_the_other_worker(server, model_dir, audio, tmp_path):
    env = worker_home(tmp_path, server, model_dir)
    procs = {name: subprocess.Popen([sys.executable, "-m", "launcher.cli", "asr", "worker", "--name", name],
                                    env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name in ("left", "right")}
    admin = sync_redis(server.authenticated_url, decode_responses=True)
    client = AsrClient(ivr_redis(server), "ms-1")
    try:
        await wait_until(lambda: set(heartbeats(admin)) == {"left", "right"}, 90, "both workers' heartbeats")
        await client.start()
        long_phrase = b"".join(audio[name] for name in SHORT * 2)   # about 15 s: seconds of compute
        future = await client.submit(new_job("waiting"), long_phrase)
        busy = await wait_until(lambda: [n for n, beat in heartbeats(admin).items() if beat["busy"]], 20,
                                "a worker busy with the phrase")
        victim, = busy
        survivor = ({"left", "right"} - {victim}).pop()
        await asyncio.sleep(0.5)   # well inside the phrase
        assert not future.done()
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        result = await asyncio.wait_for(future, 120)
        assert result.status == "ok" and result.worker == survivor, result
        said = "".join(references()[name] for name in SHORT * 2)
        assert cer(result.text, said) <= 0.5, result.text
        assert admin.xpending(job_class("waiting").stream, GROUP)["pending"] == 0
    finally:
        await client.stop()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
    assert procs[survivor].returncode == 0, "SIGTERM stops a worker cleanly"
    assert set(heartbeats(admin)) == {victim}, "a stopped worker takes its heartbeat away; a killed one cannot"


async def test_a_phrase_delivered_too_often_is_answered_lost(server, whisper, audio):
    client = AsrClient(ivr_redis(server), "ms-1")
    await client.start()
    admin = sync_redis(server.authenticated_url)
    stream = job_class("waiting").stream
    admin.xgroup_create(stream, GROUP, id="0", mkstream=True)
    future = await client.submit(new_job("waiting"), audio[SHORT[0]])
    (_, [(entry_id, _)]), = admin.xreadgroup(GROUP, "crashed-1", {stream: ">"}, count=1)   # delivery 1
    admin.xclaim(stream, GROUP, "crashed-2", 0, [entry_id])                                # delivery 2
    await asyncio.sleep(0.3)
    worker = AsrWorker(asr_redis(server), whisper, "w-1", claim_idle_ms=200)
    task = asyncio.create_task(worker.run())
    result = await asyncio.wait_for(future, 10)
    await stop_worker(worker, task)
    await client.stop()
    assert result.status == "lost" and result.worker == "w-1" and "delivered 3 times" in result.error
    assert admin.xpending(stream, GROUP)["pending"] == 0


async def test_redis_down_submit_fails_fast_pending_phrases_end_lost_and_the_client_recovers(server, whisper, audio,
                                                                                                tmp_path):
    client = AsrClient(ivr_redis(server), "ms-1", compute_allowance=1.0)   # agent deadline 4 + 1 s
    await client.start()
    pending = await client.submit(new_job("agent"), audio[SHORT[0]])    # no worker: it waits
    submitted = time.monotonic()
    server.stop()
    started = time.monotonic()
    with pytest.raises(AsrUnavailable):
        await client.submit(new_job("citizen"), audio[SHORT[1]])
    assert time.monotonic() - started < 1.5, "the caller learns at once that Redis is gone"
    assert client.backlog == 1
    result = await asyncio.wait_for(pending, 10)
    waited = time.monotonic() - submitted
    assert result.status == "lost" and "no result within 5 s" in result.error
    assert 4.5 <= waited <= 6.5, waited
    assert client.backlog == 0

    server.restart(tmp_path / "redis")   # empty: the streams and groups are gone too
    worker = AsrWorker(asr_redis(server), whisper, "w-1")
    task = asyncio.create_task(worker.run())
    future = await wait_until_submitted(client, new_job("citizen"), audio[SHORT[1]])
    again = await asyncio.wait_for(future, 20)
    await stop_worker(worker, task)
    await client.stop()
    assert again.status == "ok" and again.text, again


async def wait_until_submitted(client: AsrClient, job: PhraseJob, pcm: bytes) -> asyncio.Future:
    """The media server's connection pool reconnects on the next command after Redis is back."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return await client.submit(job, pcm)
        except AsrUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_the_asr_user_reaches_the_pool_and_nothing_of_the_callers(server):
    admin = sync_redis(server.authenticated_url)
    admin.set(prefill.key("call-1"), "{}")
    admin.xadd(transcript.key("call-1"), {"v": "1"})
    asr = sync_redis(server.user_url("asr"))
    for read in (lambda: asr.get(prefill.key("call-1")), lambda: asr.xrange(transcript.key("call-1")),
                 lambda: asr.keys("*"), lambda: asr.set("hotline:caller:13800000000", "1")):
        with pytest.raises(NoPermissionError):
            read()
    asr.hincrby(STATS_KEY, "ok", 1)
    asr.hset(WORKERS_KEY, "w", "{}")
    assert asr.hgetall(STATS_KEY) == {b"ok": b"1"}


async def test_the_stack_restarts_a_worker_that_died_and_stops_them_all(tmp_path):
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    pool = WorkerPool([sleeper, sleeper], restart_delay=0.2, stop_grace=5)
    await pool.start()
    try:
        await wait_until(lambda: all(p is not None for p in pool.procs), 10, "both workers")
        first = pool.procs[0]
        assert first is not None
        first.kill()
        await wait_until(lambda: pool.procs[0] is not first and pool.procs[0] is not None, 10, "a restart")
        assert pool.restarts == 1 and pool.procs[1] is not None and pool.procs[1].returncode is None
    finally:
        await pool.stop()
    assert all(p is not None and p.returncode is not None for p in pool.procs)
