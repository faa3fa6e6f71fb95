"""Several FastAGI processes on one port (issue 17): the real ``hotline run`` with two media processes.

With ``HOTLINE_MEDIA_PROCESSES=2`` the launcher starts ``media`` and ``media-1`` (``hotline agi serve --worker I``),
both listening on the site's FastAGI port (SO_REUSEPORT). The test places bursts of citizens' calls into the
12345 flow (Local channels into the entry context, tagged as line 12318 the way the inbound context leaves them)
and checks:

- both processes serve calls: each media process logs how many AGI requests it served, and both counts are
  above zero (the kernel spreads the connections; with ``BURST`` calls, one process taking all would be a bug);
- one of them SIGKILLed in the middle of a burst: every call of the burst still joins the general queue (most
  through the surviving process's AGI, any caught in the dead one's hands through the dialplan's fallback), and no
  call leaves the queue;
- the killed process is back (new pid, shown restarted on the wallboard's system status) and serves calls again.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from hotline.ami import AmiClient, EventBuffer
from launcher import asterisk as runner
from launcher.cli import MEDIA_PROCESSES_ENV
from tests.e2e import test_run_stack as run_stack
from tests.support.live_center import Calls, Desk, eventually, start_run

pytestmark = pytest.mark.asterisk

BURST = 40           # calls placed at once
KILL_AFTER = 10      # calls of the second burst placed before the SIGKILL
BACK_WITHIN = 30.0   # seconds from SIGKILL to the process serving again (a shared two-core box)
SERVED = re.compile(r"media pid (\d+): (\d+) AGI requests served")


def served_by_pid(log: Path) -> dict[int, int]:
    """The latest count each media process logged (``agi_scripts.app``, every few seconds while it serves)."""
    counts: dict[int, int] = {}
    for pid, count in SERVED.findall(log.read_text(errors="replace")):
        counts[int(pid)] = int(count)
    return counts


async def burst(calls: Calls, count: int, *, kill: int | None = None, after: int = 0) -> list[str]:
    """``count`` calls placed at once (SIGKILL to ``kill`` once ``after`` of them are placed); how each one's AGI
    ended, once it joined the general queue."""
    placed: list[str] = []
    for i in range(count):
        if kill is not None and i == after:
            os.kill(kill, signal.SIGKILL)
        placed.append(await calls.place())
    return await asyncio.gather(*(calls.joined(cid) for cid in placed))


async def test_two_media_processes_share_the_calls_and_one_killed_loses_none(tmp_path, monkeypatch):
    monkeypatch.setenv(MEDIA_PROCESSES_ENV, "2")
    proc, site, home = start_run(tmp_path)
    stack_json = home / "run" / "stack.json"
    log = tmp_path / "run.log"
    ami: AmiClient | None = None
    try:
        await asyncio.to_thread(run_stack.wait_for, stack_json, proc, 180)
        details = json.loads(stack_json.read_text())
        desk = Desk(details["desk"]["url"], Path(details["desk"]["admin_password_file"]).read_text().strip())
        desk.login()
        ami = AmiClient(details["ami"]["host"], details["ami"]["port"], details["ami"]["username"],
                        Path(details["ami"]["secret_file"]).read_text().strip())
        events = EventBuffer()
        ami.subscribe(events)
        await ami.connect()
        calls = Calls(ami, events, prefix="rp")

        board = await eventually(lambda: (b := desk.processes()) and all(
            b.get(n, {}).get("state") == "running" for n in ("media", "media-1")) and b,
            60, "both media processes running on the system status")
        pids = {name: board[name]["pid"] for name in ("media", "media-1")}
        # "running" is the process started; listening on the port is a moment later (its imports, Redis).
        await eventually(lambda: all(f"(media worker {i})" in log.read_text() for i in (0, 1)), 60,
                         "both media processes listening")

        # Both serve: every call of a burst through its AGI, and each process's log count above zero.
        assert await burst(calls, BURST) == ["SUCCESS"] * BURST
        counts = await eventually(lambda: (c := served_by_pid(log)) and sum(c.get(p, 0) for p in pids.values())
                                  >= BURST and c, 20, "both media processes' served counts logged")
        assert all(counts.get(pid, 0) > 0 for pid in pids.values()), (counts, pids)

        # One killed mid-burst: every call still queues.
        how = await burst(calls, BURST, kill=pids["media-1"], after=KILL_AFTER)
        tally = Counter(how)
        assert set(tally) <= {"SUCCESS", "FAILURE"}, tally   # FAILURE: the dialplan's fallback, still queued
        assert tally["SUCCESS"] >= BURST - KILL_AFTER - 5, tally   # the survivor took the rest of the burst
        row = await eventually(lambda: (r := desk.processes()["media-1"])["restarts"] == 1
                               and r["state"] == "running" and r, BACK_WITHIN, "media-1 shown restarted")
        assert row["last_exit"] == "SIGKILL" and row["pid"] != pids["media-1"], row
        assert desk.processes()["media"]["pid"] == pids["media"]   # the other one never stopped

        # Back: the restarted process serves calls again.
        reborn = row["pid"]
        deadline = time.monotonic() + BACK_WITHIN
        while served_by_pid(log).get(reborn, 0) == 0:
            assert time.monotonic() < deadline, f"the restarted media-1 (pid {reborn}) served no call: {counts}"
            assert await burst(calls, 10) == ["SUCCESS"] * 10
            await asyncio.sleep(6)   # its count is logged every 5 s

        # Every call placed is still waiting: none was lost to a process dying.
        assert len(await calls.waiting()) == calls.placed
        print(f"\n# first burst, served per pid: {counts}; second burst with media-1 killed after {KILL_AFTER} "
              f"calls: {dict(tally)}; served per pid at the end: {served_by_pid(log)}")
    finally:
        if ami is not None:
            ami.close()
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 90)
        instance = Path(site["instance_dir"])
        shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                      ignore_errors=True)
    output = log.read_text()
    assert proc.returncode == 0, output[-5000:]
    assert f"[hotline] media-1 (pid {pids['media-1']}) ended (SIGKILL); restarting" in output, output[-5000:]
