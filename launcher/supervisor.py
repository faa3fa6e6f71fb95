"""The processes ``hotline run`` keeps running: each one a child, started again when it dies (issue 17).

``hotline run`` starts the FastAGI + AudioSocket media server, the desk, the AMI listener and the ASR workers as
separate processes so that a crash, a leak or a long CPU burst in one of them stops only that one. Each is a
``Child`` (a name, what it is, its command line); the ``Supervisor`` starts it, waits for it, and when it dies
says so in the log and starts it again after a pause that doubles while it keeps dying (``restart_delay`` up to
``max_delay``; back to ``restart_delay`` once it had run ``healthy_after`` seconds). Every change, and every
``REFRESH_SECONDS`` anyway, is written to Redis (``hotline.contracts.processes``) for the wallboard's system
status; Redis being down costs only that report, never a restart.

Children run in sessions of their own (a terminal's Ctrl-C reaches the launcher, which stops them itself: a child
that got it too would exit before the supervisor marked it stopping, and be restarted) and with the parent-death
signal set (``LocalRedis.dies_with_parent``): a launcher killed with SIGKILL takes them with it. ``stop`` sends
SIGTERM to all, then SIGKILL to those still there after ``stop_grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hotline.contracts import processes as contract
from hotline.contracts.processes import ProcessKind, ProcessRecord, ProcessState
from launcher.redis import LocalRedis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Child:
    name: str              # unique among the supervisor's children: media, desk, listener, asr-0 ...
    argv: Sequence[str]
    kind: ProcessKind = ProcessKind.ASR
    nice: int = 0          # its scheduling niceness (negative: ahead of the rest of the box; needs root)


def set_nice(pid: int, nice: int) -> bool:
    """Give process ``pid`` (its main thread, so every thread it starts later) niceness ``nice``; False (logged)
    when not allowed, e.g. a negative one without root: the process then runs at the default priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        return True
    except (PermissionError, ProcessLookupError) as exc:
        log.warning("niceness %d not set on pid %d (%s): it runs at the default priority", nice, pid, exc)
        return False


def exit_text(code: int | None) -> str:
    """How a run ended, as the log and the wallboard say it: ``exit 1``, ``SIGKILL``."""
    if code is None:
        return ""
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


class StatusBoard:
    """Where the supervisor reports its children: one Redis hash field each (``hotline.contracts.processes``)."""

    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self._failing = False

    async def write(self, records: Iterable[ProcessRecord]) -> None:
        mapping = {record.name: record.encode() for record in records}
        if not mapping:
            return
        try:
            await self.redis.hset(contract.KEY, mapping=mapping)   # type: ignore[arg-type]  # redis-py's key union
            if self._failing:
                log.info("process status reaches Redis again")
            self._failing = False
        except (RedisError, OSError) as exc:
            if not self._failing:   # once per outage: the supervisor keeps restarting whatever Redis does
                log.warning("process status not written to Redis (%s); the supervision goes on", exc)
            self._failing = True

    async def forget(self, names: Iterable[str]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.hdel(contract.KEY, *names)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose()


class Supervisor:
    """One process per ``Child`` (or per bare command line), kept running until ``stop``."""

    def __init__(self, children: Sequence[Child | Sequence[str]], env: Mapping[str, str] | None = None, *,
                 restart_delay: float = 1.0, max_delay: float = 60.0, healthy_after: float = 60.0,
                 stop_grace: float = 15.0, status: StatusBoard | None = None):
        self.children = [c if isinstance(c, Child) else Child(f"asr-{i}", list(c)) for i, c in enumerate(children)]
        if len({c.name for c in self.children}) != len(self.children):
            raise ValueError(f"child names must be unique: {[c.name for c in self.children]}")
        self.env = dict(env) if env is not None else None
        self.restart_delay, self.max_delay, self.healthy_after = restart_delay, max_delay, healthy_after
        self.stop_grace = stop_grace
        self.status = status
        self.procs: list[asyncio.subprocess.Process | None] = [None] * len(self.children)
        self.records = [ProcessRecord(name=c.name, kind=c.kind, state=ProcessState.STOPPED) for c in self.children]
        self.restarts = 0   # over all children
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._refresh: asyncio.Task[None] | None = None
        self._stopping = False

    def index(self, name: str) -> int:
        for i, child in enumerate(self.children):
            if child.name == name:
                return i
        raise KeyError(name)

    def pid(self, name: str) -> int | None:
        proc = self.procs[self.index(name)]
        return proc.pid if proc is not None and proc.returncode is None else None

    async def start(self, names: Iterable[str] | None = None) -> None:
        """Start the children named (all by default) that are not running yet."""
        self._stopping = False
        wanted = range(len(self.children)) if names is None else [self.index(n) for n in names]
        for i in wanted:
            if i not in self._tasks:
                self._tasks[i] = asyncio.create_task(self._supervise(i), name=f"supervise-{self.children[i].name}")
        if self.status is not None and self._refresh is None:
            self._refresh = asyncio.create_task(self._refresh_loop(), name="process-status")

    async def _report(self, index: int, **changes: object) -> None:
        self.records[index] = self.records[index].model_copy(update={**changes, "updated_at": time.time()})
        if self.status is not None:
            await self.status.write([self.records[index]])

    async def _refresh_loop(self) -> None:
        """Every record again now and then: the desk tells a live supervisor from a dead one by ``updated_at``,
        and a Redis that restarted empty gets the picture back."""
        assert self.status is not None   # started only with a board
        while True:
            await asyncio.sleep(contract.REFRESH_SECONDS)
            now = time.time()
            self.records = [r.model_copy(update={"updated_at": now}) for r in self.records]
            await self.status.write(self.records)

    async def _supervise(self, index: int) -> None:
        child = self.children[index]
        delay = self.restart_delay
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await self._report(index, state=ProcessState.STARTING, pid=None, next_start_at=None)
            started = loop.time()
            proc: asyncio.subprocess.Process | None = None
            try:
                proc = await asyncio.create_subprocess_exec(*LocalRedis.dies_with_parent(list(child.argv)),
                                                            env=self.env, stdin=asyncio.subprocess.DEVNULL,
                                                            start_new_session=True)
            except OSError as exc:   # not even started (a missing program, no memory): tried again like a crash
                log.error("process %s not started: %s", child.name, exc)
                code: int | None = 127
            if proc is not None:
                if child.nice:   # before it has started any thread of its own (Python is still starting up)
                    set_nice(proc.pid, child.nice)
                self.procs[index] = proc
                await self._report(index, state=ProcessState.RUNNING, pid=proc.pid, started_at=time.time())
                code = await proc.wait()
                self._end_leftovers(proc.pid)
            if self._stopping:
                await self._report(index, state=ProcessState.STOPPED, pid=None, last_exit=exit_text(code),
                                   last_exit_at=time.time())
                return
            self.restarts += 1
            if loop.time() - started > self.healthy_after:
                delay = self.restart_delay   # it had been running fine: this is a new failure
            how = exit_text(code)
            pid = proc.pid if proc is not None else None
            log.warning("process %s (pid %s) ended (%s); starting it again in %.1f s", child.name, pid, how, delay)
            print(f"[hotline] {child.name} (pid {pid}) ended ({how}); restarting in {delay:.1f} s",
                  file=sys.stderr, flush=True)
            await self._report(index, state=ProcessState.RESTARTING, pid=None, last_exit=how,
                               last_exit_at=time.time(), restarts=self.records[index].restarts + 1,
                               next_start_at=time.time() + delay)
            await asyncio.sleep(delay)
            delay = min(self.max_delay, delay * 2)

    @staticmethod
    def _end_leftovers(pid: int) -> None:
        """SIGKILL what the child left behind in its process group (its session's, ``start_new_session``): a
        program that forks workers (Kamailio) and is killed leaves them holding its ports, and the child started
        again could not bind them."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Stop every child: SIGTERM (each finishes what it is doing), SIGKILL after ``stop_grace``. Never raises."""
        self._stopping = True
        for proc in self.procs:
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            if proc is None:
                continue
            try:
                await asyncio.wait_for(proc.wait(), self.stop_grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            self._end_leftovers(proc.pid)
        tasks = [*self._tasks.values(), *([self._refresh] if self._refresh is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._refresh = {}, None
        if self.status is not None:   # a clean stop leaves no record behind to look stale
            await self.status.forget(c.name for c in self.children)
