"""The ASR workers ``hotline run`` keeps on this machine (``site.speech.workers`` processes of ``hotline asr worker``).

Each is a child process supervised here: one that dies is started again (after a pause that grows while it keeps
dying, up to a minute), and all are stopped (SIGTERM, then SIGKILL after a grace period) when the stack stops. A
child also gets SIGTERM if the launcher itself dies (parent-death signal). Other machines add capacity by running
``hotline asr worker`` against the same Redis; nothing here needs to know.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping

from hotline.paths import Paths
from hotline.site import SiteConfig
from launcher.redis import LocalRedis

log = logging.getLogger(__name__)


class WorkerPool:
    """One process per ``argv``, kept running until ``stop``."""

    def __init__(self, argvs: list[list[str]], env: Mapping[str, str] | None = None, *, restart_delay: float = 1.0,
                 stop_grace: float = 15.0):
        self.argvs = argvs
        self.env = dict(env) if env is not None else None
        self.restart_delay = restart_delay
        self.stop_grace = stop_grace
        self.procs: list[asyncio.subprocess.Process | None] = [None] * len(argvs)
        self.restarts = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [asyncio.create_task(self._supervise(i), name=f"asr-worker-{i}") for i in range(len(self.argvs))]

    async def _supervise(self, index: int) -> None:
        delay = self.restart_delay
        while not self._stopping:
            # A session of its own: a terminal's Ctrl-C reaches the launcher, which stops the workers itself (a worker
            # that got it too would exit before the launcher marked the pool stopping, and be restarted).
            proc = await asyncio.create_subprocess_exec(*LocalRedis.dies_with_parent(self.argvs[index]), env=self.env,
                                                        stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
            self.procs[index] = proc
            started = asyncio.get_running_loop().time()
            code = await proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            if asyncio.get_running_loop().time() - started > 60:
                delay = self.restart_delay   # it had been running fine: this is a new failure
            log.warning("ASR worker %d exited with %s; starting it again in %.0f s", index, code, delay)
            print(f"[asr] worker {index} exited ({code}); restarting in {delay:.0f} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
            delay = min(60.0, delay * 2)

    async def stop(self) -> None:
        """Stop every worker: SIGTERM (each finishes its phrase), SIGKILL after ``stop_grace``. Never raises."""
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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


def asr_workers(paths: Paths, site: SiteConfig) -> WorkerPool:
    """The site's local workers (none when the site has no speech engine), with this launcher's paths."""
    count = site.speech.workers if site.speech.engine != "none" else 0
    env = {**os.environ, "HOTLINE_HOME": str(paths.home), "HOTLINE_PLAN": str(paths.plan),
           "HOTLINE_SITE": str(paths.site)}
    host = socket.gethostname()
    # Niced: on the box that carries calls, Asterisk, Redis and the media server come first; transcription is
    # what is shed under load.
    argvs = [[sys.executable, "-m", "launcher.cli", "asr", "worker", "--name", f"{host}-{site.name}-{i}", "--nice",
              "10"] for i in range(count)]
    return WorkerPool(argvs, env)
