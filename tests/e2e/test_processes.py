"""Processes that fail alone (issue 17): the real ``hotline run``, each of its processes killed with SIGKILL once while
a call is in progress.

For every process (the FastAGI + AudioSocket media server, the desk, the AMI listener, an ASR worker) the test
places a citizen's call into the 12345 flow (a Local channel into the entry context, tagged as line 12318 the way
the inbound context leaves it), waits until it waits in the general queue, kills the process, and checks:

- the citizen's call is still in the queue (no call depends on a process being up), and a call placed while the
  process is down reaches the queue too (with the media server down: through the AGI fallback);
- the process is back, with a new pid and doing its work, within ``BACK_WITHIN`` seconds;
- the wallboard's system status (``GET /api/wallboard/processes``) shows the restart: one more restart, ``SIGKILL``
  as the last exit, running again;
- what the process does afterwards: the media server answers the next call's AGI; the desk lets the admin log
  in, and a supervisor finds on record every call of the outage, a burst of ``DESK_DOWN_BURST`` among them
  (the listener, a process of its own, stored them meanwhile and kept the wallboard moving); the listener's
  wallboard snapshot, rebuilt from Asterisk, counts the calls waiting; the worker's heartbeat
  reaches Redis again.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import redis

from hotline.ami import AmiClient, EventBuffer
from hotline.contracts.asr import WORKERS_KEY
from hotline.numberplan import GENERAL_QUEUE
from agent_desk.supervision.wallboard import SNAPSHOT_KEY
from launcher import asterisk as runner
from launcher.cli import MEDIA_PROCESSES_ENV
from launcher.stack import port_answers
from tests.e2e import test_run_stack as run_stack
from tests.support.live_center import Calls, Desk, add_user, eventually, start_run

pytestmark = pytest.mark.asterisk

BACK_WITHIN = 30.0   # seconds from SIGKILL to the process doing its work again (a shared two-core box)
DESK_DOWN_BURST = 20  # calls placed at once while the desk is down


async def test_each_process_killed_mid_call_comes_back_and_no_call_is_lost(tmp_path, monkeypatch):
    # One media process: its kill is the AGI outage this test is about (several: tests/e2e/test_agi_replicas.py).
    monkeypatch.setenv(MEDIA_PROCESSES_ENV, "1")
    proc, site, home = start_run(tmp_path)
    stack_json = home / "run" / "stack.json"
    ami: AmiClient | None = None
    admin_redis: redis.Redis | None = None
    try:
        await asyncio.to_thread(run_stack.wait_for, stack_json, proc, 180)
        details = json.loads(stack_json.read_text())
        desk = Desk(details["desk"]["url"], Path(details["desk"]["admin_password_file"]).read_text().strip())
        desk.login()
        # A supervisor reads the call records (the desk's own CLI makes one, as an operator would).
        add_user(tmp_path, home, "boss", "supervisor", "boss-password-12345")
        boss = Desk(details["desk"]["url"], "boss-password-12345", "boss")
        boss.login()
        admin_redis = redis.Redis.from_url(details["redis"]["url"],
                                           password=Path(details["redis"]["password_file"]).read_text().strip())
        ami = AmiClient(details["ami"]["host"], details["ami"]["port"], details["ami"]["username"],
                        Path(details["ami"]["secret_file"]).read_text().strip())
        events = EventBuffer()
        ami.subscribe(events)
        await ami.connect()
        calls = Calls(ami, events)

        board = await eventually(lambda: (b := desk.processes()) and all(
            b.get(n, {}).get("state") == "running" for n in ("media", "desk", "listener", "asr-0")) and b,
            60, "every process running on the wallboard's system status")
        assert {p["restarts"] for p in board.values()} == {0}
        pids = {name: p["pid"] for name, p in board.items()}
        assert all(run_stack.program_and_parent(pid) for pid in pids.values())
        # Redis is a child of the launcher too, but not a supervised process: not on the list.
        assert set(board) == {"media", "desk", "listener", "asr-0"}

        recovery: dict[str, float] = {}

        async def kill_mid_call(name: str) -> tuple[str, str, float]:
            """A waiting call, then SIGKILL; a call placed while it is down. Both reach the queue."""
            before = await calls.place()
            assert await calls.joined(before) == "SUCCESS"
            os.kill(pids[name], signal.SIGKILL)
            killed = time.monotonic()
            during = await calls.place()
            how = await calls.joined(during)
            assert {before, during} <= await calls.waiting(), f"a call left the queue when {name} died"
            return during, how, killed

        async def shown_restarted(name: str) -> dict:
            row = await eventually(lambda: (r := desk.processes()[name])["restarts"] == 1 and r["state"] == "running"
                                   and r, BACK_WITHIN, f"{name} shown restarted on the system status")
            assert row["last_exit"] == "SIGKILL" and row["pid"] != pids[name], row
            return row

        # The media server: a call placed while it is down takes the AGI fallback; the next one its AGI again.
        _, how, killed = await kill_mid_call("media")
        assert how in ("FAILURE", "SUCCESS"), how   # FAILURE unless the restart was quicker than the call
        await shown_restarted("media")
        await eventually(lambda: port_answers("127.0.0.1", site["agi_port"]), BACK_WITHIN, "FastAGI answering again")
        after = await calls.place()
        assert await calls.joined(after) == "SUCCESS"
        recovery["media"] = time.monotonic() - killed

        # The desk: calls never wait for it; the listener (another process) keeps the wallboard going meanwhile.
        def board_version() -> int:
            return json.loads(admin_redis.get(SNAPSHOT_KEY) or "{}").get("version", 0)

        before = await calls.place()
        assert await calls.joined(before) == "SUCCESS"
        os.kill(pids["desk"], signal.SIGKILL)
        killed = time.monotonic()
        version = board_version()
        during = await calls.place()
        assert await calls.joined(during) == "SUCCESS"
        await eventually(lambda: board_version() > version, 5, "the wallboard moving on with the desk down")
        assert not desk.answers(), "the desk was back too soon to show that the listener works without it"
        burst = [await calls.place() for _ in range(DESK_DOWN_BURST)]   # at load, while the desk is restarting
        assert await asyncio.gather(*(calls.joined(cid) for cid in burst)) == ["SUCCESS"] * DESK_DOWN_BURST
        assert {before, during, *burst} <= await calls.waiting()
        await eventually(desk.answers, BACK_WITHIN, "the desk answering again")
        desk.login()
        boss.login()   # sessions live in the database: the same password, a new token
        for cid in (during, *burst):   # the calls of the outage are on record: the listener stored them meanwhile
            assert await asyncio.to_thread(boss.call_queued, cid), cid
        await shown_restarted("desk")
        recovery["desk"] = time.monotonic() - killed

        # The listener: started again, it rebuilds the board from Asterisk (QueueStatus), the waiting calls with it.
        _, how, killed = await kill_mid_call("listener")
        assert how == "SUCCESS"
        await shown_restarted("listener")
        waiting = await calls.waiting()

        def rebuilt() -> bool:
            snapshot = desk.get("/wallboard")
            general = next(q for q in snapshot["queues"] if q["queue"] == GENERAL_QUEUE)
            return snapshot["connected"] and general["waiting"] == len(waiting)

        await eventually(rebuilt, BACK_WITHIN, f"the rebuilt wallboard counting the {len(waiting)} waiting calls")
        recovery["listener"] = time.monotonic() - killed

        # An ASR worker: its heartbeat reaches Redis again under the same name.
        admin_redis.delete(WORKERS_KEY)
        _, how, killed = await kill_mid_call("asr-0")
        assert how == "SUCCESS"
        await shown_restarted("asr-0")
        await eventually(lambda: admin_redis.hkeys(WORKERS_KEY), BACK_WITHIN, "the worker's heartbeat")
        recovery["asr-0"] = time.monotonic() - killed

        # Every call placed is still waiting: none was lost to a process dying.
        assert len(await calls.waiting()) == calls.placed
        print("\n# recovery (SIGKILL → doing its work again), s: "
              + ", ".join(f"{k} {t:.1f}" for k, t in recovery.items()))
    finally:
        if ami is not None:
            ami.close()
        if admin_redis is not None:
            admin_redis.close()
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 90)
        instance = Path(site["instance_dir"])
        shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                      ignore_errors=True)
    output = (tmp_path / "run.log").read_text()
    assert proc.returncode == 0, output[-5000:]
    for name in ("media", "desk", "listener", "asr-0"):
        assert f"[hotline] {name} (pid {pids[name]}) ended (SIGKILL); restarting" in output, output[-5000:]
    assert not stack_json.exists()
