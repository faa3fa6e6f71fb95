"""Real ASR worker processes for the benchmarks: the product's own ``hotline asr worker``, started N times.

Each worker is a separate process, as ``hotline run`` starts them (on any machine that reaches the center's Redis):
it reads the site's speech settings and the ``asr`` Redis user's secret from a bench-made home, joins the pool's
streams and heart-beats under its name. :func:`asr_workers` starts them, waits until every one heart-beats (a
worker that exits first is an error naming its log), yields the processes and stops them with SIGTERM on the way
out (SIGKILL after 20 s). The workers die with the bench if it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis

from hotline import access
from hotline.contracts.asr import WORKERS_KEY
from hotline.paths import PROJECT_ROOT
from launcher.redis import LocalRedis
from tests.support.redis_server import RedisServer


def worker_env(work: Path, server: RedisServer, model: Path) -> dict[str, str]:
    """The environment of a worker: a home under ``work`` holding the ``asr`` user's secret, a site naming the
    bench's Redis and the Whisper model directory."""
    home = work / "asr-home"
    (home / "secrets").mkdir(parents=True, exist_ok=True)
    (home / "secrets" / access.REDIS_ASR_SECRET).write_text(server.passwords[access.REDIS_ASR_SECRET] + "\n")
    site = work / "asr-site.yaml"
    site.write_text(f"redis_url: {server.url}\nspeech:\n  engine: whisper\n  model_dir: {model}\n")
    return {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(site)}


@contextlib.asynccontextmanager
async def asr_workers(server: RedisServer, env: dict[str, str], names: list[str], threads: int,
                      log_dir: Path | None = None, timeout: float = 120) -> AsyncIterator[list[subprocess.Popen]]:
    """``hotline asr worker --name N --threads T`` for each name, running until the block ends."""
    admin = redis.Redis.from_url(server.authenticated_url, decode_responses=True)
    admin.hdel(WORKERS_KEY, *names)
    procs = []
    for name in names:
        out = (log_dir / f"{name}.log").open("w") if log_dir else subprocess.DEVNULL
        procs.append(subprocess.Popen(
            LocalRedis.dies_with_parent([sys.executable, "-m", "launcher.cli", "asr", "worker", "--name", name,
                                         "--threads", str(threads)]),
            env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + timeout
        while set(names) - set(admin.hkeys(WORKERS_KEY)):   # heart-beating: ready
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"the ASR workers did not start{f'; see {log_dir}' if log_dir else ''}")
            await asyncio.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        admin.close()
