"""``launcher.supervisor``: real child processes (small Python programs) started, killed, restarted with back-off,
stopped; the status it reports goes to a recording board that refuses anything but the two writes it expects."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from hotline.contracts import processes as contract
from hotline.contracts.processes import ProcessKind, ProcessRecord, ProcessState
from launcher.supervisor import Child, StatusBoard, Supervisor, exit_text

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]


class RecordingRedis:
    """The two hash commands the board uses, kept; any other attribute is a test failure."""

    def __init__(self, failing: bool = False) -> None:
        self.hash: dict[str, str] = {}
        self.writes: list[dict[str, str]] = []
        self.failing = failing
        self.closed = False

    async def hset(self, key: str, mapping: dict[str, str]) -> int:
        assert key == contract.KEY
        if self.failing:
            raise ConnectionError("Redis is down")
        self.writes.append(dict(mapping))
        self.hash.update(mapping)
        return len(mapping)

    async def hdel(self, key: str, *names: str) -> int:
        assert key == contract.KEY
        for name in names:
            self.hash.pop(name, None)
        return len(names)

    async def aclose(self) -> None:
        self.closed = True

    def __getattr__(self, name: str):
        raise AssertionError(f"the status board used Redis.{name}, which it should not need")


async def until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)


def states(redis: RecordingRedis, name: str) -> list[str]:
    return [str(ProcessRecord.decode(w[name]).state) for w in redis.writes if name in w]


def test_how_a_run_ended_reads():
    assert (exit_text(-9), exit_text(-15), exit_text(1), exit_text(0), exit_text(None)) == (
        "SIGKILL", "SIGTERM", "exit 1", "exit 0", "")


def test_child_names_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        Supervisor([Child("desk", SLEEPER), Child("desk", SLEEPER)])


async def test_a_killed_child_is_restarted_reported_and_the_others_keep_running():
    redis = RecordingRedis()
    sup = Supervisor([Child("media", SLEEPER, ProcessKind.MEDIA), Child("desk", SLEEPER, ProcessKind.DESK)],
                     restart_delay=0.1, status=StatusBoard(redis))   # type: ignore[arg-type]
    await sup.start()
    try:
        await until(lambda: sup.pid("media") and sup.pid("desk"), 10, "both running")
        media, desk = sup.pid("media"), sup.pid("desk")
        assert media is not None
        os.kill(media, signal.SIGKILL)
        await until(lambda: sup.pid("media") not in (None, media), 10, "media restarted")
        assert sup.pid("desk") == desk, "the other process was not touched"
        record = ProcessRecord.decode(redis.hash["media"])
        assert (record.state, record.restarts, record.last_exit, record.pid) == (
            ProcessState.RUNNING, 1, "SIGKILL", sup.pid("media"))
        assert states(redis, "media") == ["starting", "running", "restarting", "starting", "running"]
        assert ProcessRecord.decode(redis.hash["desk"]).restarts == 0
        assert sup.restarts == 1
    finally:
        await sup.stop()
    assert all(p is not None and p.returncode is not None for p in sup.procs)
    assert redis.hash == {}, "a clean stop leaves no record to look stale"


async def test_a_child_that_keeps_dying_waits_longer_each_time_up_to_the_limit():
    redis = RecordingRedis()
    sup = Supervisor([Child("listener", CRASHER, ProcessKind.LISTENER)], restart_delay=0.1, max_delay=0.4,
                     status=StatusBoard(redis))   # type: ignore[arg-type]
    await sup.start()
    try:
        await until(lambda: sup.restarts >= 5, 20, "five restarts")
    finally:
        await sup.stop()
    waits = [round(r.next_start_at - r.last_exit_at, 1) for r in
             (ProcessRecord.decode(w["listener"]) for w in redis.writes if "listener" in w)
             if r.state == ProcessState.RESTARTING and r.next_start_at and r.last_exit_at]
    assert waits[:5] == [0.1, 0.2, 0.4, 0.4, 0.4], waits
    assert all(ProcessRecord.decode(w["listener"]).last_exit in ("", "exit 3") for w in redis.writes)


async def test_redis_down_costs_the_report_not_the_restart():
    redis = RecordingRedis(failing=True)
    sup = Supervisor([Child("media", SLEEPER, ProcessKind.MEDIA)], restart_delay=0.1,
                     status=StatusBoard(redis))   # type: ignore[arg-type]
    await sup.start()
    try:
        await until(lambda: sup.pid("media"), 10, "running")
        first = sup.pid("media")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await until(lambda: sup.pid("media") not in (None, first), 10, "restarted without Redis")
        redis.failing = False   # Redis is back: the next refresh writes the picture again
        await until(lambda: "media" in redis.hash, contract.REFRESH_SECONDS + 5, "refreshed")
        assert ProcessRecord.decode(redis.hash["media"]).restarts == 1
    finally:
        await sup.stop()


async def test_stop_kills_what_ignores_sigterm_after_the_grace_period():
    stubborn = [sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
                "time.sleep(120)"]
    sup = Supervisor([Child("asr-0", stubborn)], stop_grace=0.5)
    await sup.start()
    await until(lambda: sup.pid("asr-0"), 10, "running")
    await asyncio.sleep(0.5)   # the child has set its handler
    started = time.monotonic()
    await sup.stop()
    proc = sup.procs[0]
    assert proc is not None and proc.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])   # field 19: nice


async def test_a_child_runs_at_its_niceness_and_gets_it_again_after_a_restart():
    sup = Supervisor([Child("asr-0", SLEEPER, nice=7)], restart_delay=0.1)
    await sup.start()
    try:
        await until(lambda: sup.pid("asr-0"), 10, "running")
        first = sup.pid("asr-0")
        assert first is not None and niceness(first) == 7
        os.kill(first, signal.SIGKILL)
        await until(lambda: sup.pid("asr-0") not in (None, first), 10, "restarted")
        again = sup.pid("asr-0")
        assert again is not None and niceness(again) == 7
    finally:
        await sup.stop()
