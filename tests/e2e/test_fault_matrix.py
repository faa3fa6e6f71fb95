"""The fault matrix (issue 17, point 4): each row is data (the fault, when it is injected, what the citizen must
experience, what the agent must see, what must be stored) and one runner injects it into a live center (the real
``hotline run`` on a PostgreSQL database) with a citizen's call in progress, and reports per row:
calls lost, tickets lost, calls that reached the queue (a human's), time to recover.

The runner, for every row: a call waits in the general queue; the fault; a call placed while it lasts (it must
reach the queue too); the row's checks while it lasts (what the agent sees, tickets saved meanwhile); the repair;
recovery timed until the row's ``recovered`` holds; a call placed afterwards; the row's checks of what is stored.
The rows share one center, in order, as faults would come one after another.

Rows for processes killed with SIGKILL (media server, desk, listener, ASR worker) are run by
``tests/e2e/test_processes.py`` on the same kind of center; they are listed here by reference, not run twice.
A row that finds a defect not fixed yet is a strict xfail naming it (it fails the suite once the defect is fixed,
so the mark is taken off). The per-row figures are printed (``-s``) and written to
``test-artifacts/fault-matrix.json``; the center's log to ``test-artifacts/fault-matrix-run.log``.

Not rows yet (issue 17): the recordings disk full; a speech worker killed mid-transcription (the SIGKILL row only
checks the worker's return).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from hotline.ami import AmiClient, AmiError, EventBuffer
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT, Paths
from hotline.secrets import SecretStore
from hotline.site import load_site
from launcher import stack
from launcher import asterisk as runner
from tests.e2e import test_run_stack as run_stack
from tests.support import faults
from tests.support.live_center import Calls, Desk, add_user, eventually, start_run
from tests.support.postgres_server import PostgresServer

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(600)]

RECOVER_WITHIN = 45.0   # seconds from the repair to the row's ``recovered`` (a shared two-core box)
REPORT: dict[str, dict] = {}


@dataclass
class Live:
    """The running center and the people using it."""

    proc: object
    site: dict
    home: Path
    postgres: PostgresServer
    admin: Desk
    boss: Desk      # a supervisor: the wallboard, the call records, the tickets
    agent: Desk     # a 话务员 who saves tickets
    redis_admin: redis.Redis
    calls: Calls | None = None
    state: dict = field(default_factory=dict)   # what a row's checks hand to its later checks


Step = Callable[[Live], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    name: str
    when: str           # when it is injected
    citizen: str        # what the citizen must experience
    agent: str          # what the agent must see
    stored: str         # what must be stored
    inject: Step | None = None
    while_down: Step | None = None
    repair: Step | None = None
    recovered: Callable[[Live], bool] | None = None
    after: Step | None = None
    call_during: bool = True        # a call can be placed while the fault lasts (not when Asterisk itself is down)
    cuts_calls: bool = False        # the fault ends the calls in progress (unavoidable: Asterisk restarted)
    covered_by: str = ""   # a row run by another test
    xfail: str = ""        # a known defect: strict xfail with this reason


# ── what the rows check ──────────────────────────────────────────────────────────
def draft(tag: str, cid: str = "") -> dict:
    return {"title": f"路灯不亮 {tag}", "content": f"嘉积镇某路路灯不亮（{tag}）", "appeal_type": "help",
            "citizen_phone": "13907550001", **({"call_id": cid} if cid else {})}


def tickets_titled(desk: Desk, tag: str) -> list[dict]:
    return [t for t in desk.get(f"/tickets?q={tag}&limit=100")["items"] if tag in t["title"]]


def wallboard_counts_waiting(live: Live) -> bool:
    """The supervisor's wallboard is up, connected to Asterisk, and counts every call waiting in the queue."""
    status, board = live.boss.send("GET", "/wallboard")
    if status != 200 or not board["connected"]:
        return False
    general = next(q for q in board["queues"] if q["queue"] == GENERAL_QUEUE)
    return general["waiting"] == live.state["expect_waiting"]


async def note_waiting(live: Live) -> None:
    assert live.calls is not None
    live.state["expect_waiting"] = len(await live.calls.waiting())


def on_record(desk: Desk, cid: str) -> bool:
    status, body = desk.send("GET", f"/calls/{cid}")
    return status == 200 and bool(body["queued_at"])


# Redis
async def redis_down(live: Live) -> None:
    outage = faults.RedisOutage(live.proc.pid, live.site["redis_url"], live.home / "redis")   # type: ignore[attr-defined]
    live.state["redis"] = outage
    await asyncio.to_thread(outage.stop)


async def redis_while_down(live: Live) -> None:
    status, body = await asyncio.to_thread(live.boss.send, "GET", "/wallboard")
    assert status == 503 and "请稍后重试" in body["message"], (status, body)   # degraded, said in Chinese
    status, body = await asyncio.to_thread(live.agent.send, "POST", "/tickets", draft("FMREDIS"))
    assert status == 201, (status, body)   # tickets live in the database: saved, Redis or not
    live.state["saved"] = ["FMREDIS"]


async def redis_up(live: Live) -> None:
    await asyncio.to_thread(live.state["redis"].start)
    await note_waiting(live)


# PostgreSQL
async def postgres_down(live: Live) -> None:
    await asyncio.to_thread(faults.stop_postgres, live.postgres)


async def postgres_while_down(live: Live) -> None:
    status, body = await asyncio.to_thread(live.agent.send, "POST", "/tickets", draft("FMPGDOWN"))
    assert status == 503, (status, body)
    assert "数据库" in body["message"] and "重试" in body["message"], body   # says what and what to do, in Chinese
    live.state["refused"] = "FMPGDOWN"


async def postgres_up(live: Live) -> None:
    await asyncio.to_thread(faults.start_postgres, live.postgres)


def postgres_retry_saves(live: Live) -> bool:
    """The agent's retry of the refused ticket is saved."""
    status, body = live.agent.send("POST", "/tickets", draft(live.state["refused"]))
    return status == 201


async def postgres_after(live: Live) -> None:
    # Nothing half saved: the refused attempt left no ticket, the retry exactly one.
    assert len(await asyncio.to_thread(tickets_titled, live.boss, "FMPGDOWN")) == 1
    live.state["saved"] = ["FMPGDOWN"]


# AMI connection
async def ami_cut(live: Live) -> None:
    board = await asyncio.to_thread(live.admin.processes)
    pid = board["listener"]["pid"]
    cut = await asyncio.to_thread(faults.cut_tcp, pid, live.site["ami_port"])
    assert cut, "the listener had no AMI connection to cut"
    live.state["ami_cut"] = (pid, cut)


def ami_reconnected(live: Live) -> bool:
    """The same listener (not a restarted one) on a new AMI connection, and the wallboard right again."""
    pid, cut = live.state["ami_cut"]
    now = faults.tcp_ports(pid, live.site["ami_port"])
    return bool(now) and not now & cut and wallboard_counts_waiting(live)


# Asterisk
def center_asterisk(live: Live):
    paths = Paths(home=live.home, plan=PROJECT_ROOT / "asterisk_conf" / "numbers.yaml",
                  site=live.home.parent / "site.yaml")
    return stack.asterisk_instance(paths, load_site(paths.site), SecretStore(paths.secrets))


async def asterisk_down(live: Live) -> None:
    live.state["asterisk"] = center_asterisk(live)
    await asyncio.to_thread(live.state["asterisk"].down)


async def asterisk_up(live: Live) -> None:
    await asyncio.to_thread(live.state["asterisk"].up)
    assert live.calls is not None
    calls = live.calls
    deadline = time.monotonic() + RECOVER_WITHIN
    while True:   # the harness's own AMI connection reconnects by itself (panoramisk), like the listener's
        try:
            live.state["expect_waiting"] = len(await calls.waiting())
            return
        except (OSError, TimeoutError, AmiError):
            assert time.monotonic() < deadline, "the operator's AMI connection did not come back"
            await asyncio.sleep(0.5)


def stack_back(live: Live) -> bool:
    """Every supervised process running and the wallboard connected again, counting the waiting calls."""
    board = live.admin.processes()
    return all(p["state"] == "running" for p in board.values()) and wallboard_counts_waiting(live)


ROWS = [
    Fault("media server killed (SIGKILL)", "a call waiting in the queue",
          "the call stays queued; a call meanwhile takes the AGI fallback to the queue",
          "the system status shows the restart", "every call of the outage on record",
          covered_by="tests/e2e/test_processes.py"),
    Fault("desk killed (SIGKILL)", "a call waiting in the queue", "calls keep queuing; nothing waits for the desk",
          "the desk is back within seconds, same password", "calls of the outage recorded by the listener",
          covered_by="tests/e2e/test_processes.py"),
    Fault("listener killed (SIGKILL)", "a call waiting in the queue", "no change",
          "the wallboard rebuilt from Asterisk counts the waiting calls", "—",
          covered_by="tests/e2e/test_processes.py"),
    Fault("ASR worker killed (SIGKILL)", "a call waiting in the queue", "no change",
          "the worker's heartbeat back", "—", covered_by="tests/e2e/test_processes.py"),
    Fault("Redis stopped and restarted", "a call waiting in the queue",
          "calls keep reaching the queue", "the wallboard answers 503 with a Chinese message, then recovers and "
          "counts the waiting calls", "a ticket saved meanwhile is saved",
          inject=redis_down, while_down=redis_while_down, repair=redis_up, recovered=wallboard_counts_waiting),
    Fault("PostgreSQL stopped and restarted", "a call waiting in the queue",
          "calls keep reaching the queue", "a ticket saved meanwhile is refused (503) with a Chinese message "
          "saying to retry", "nothing half saved; the retry after the restart saves it once",
          inject=postgres_down, while_down=postgres_while_down, repair=postgres_up, recovered=postgres_retry_saves,
          after=postgres_after),
    Fault("AMI connection dropped by the network", "a call waiting in the queue",
          "calls keep reaching the queue", "the listener reconnects; the wallboard counts the waiting calls, "
          "the one queued while it was cut among them", "—",
          inject=ami_cut, repair=note_waiting, recovered=ami_reconnected),
    Fault("Asterisk restarted", "calls waiting in the queue",
          "the calls in progress end with Asterisk (unavoidable); new calls after the restart reach the queue",
          "every process keeps running; the wallboard reconnects and counts the calls waiting after",
          "the calls cut on record as queued; the new call on record",
          inject=asterisk_down, repair=asterisk_up, recovered=stack_back, call_during=False, cuts_calls=True),
]


# ── the live center ─────────────────────────────────────────────────────────────
@pytest.fixture(scope="module")
async def live(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fault-matrix")
    postgres = await asyncio.to_thread(PostgresServer.start, tmp_path / "pg-log")
    proc, site, home = start_run(tmp_path, postgres.create_database())
    stack_json = home / "run" / "stack.json"
    center: Live | None = None
    try:
        await asyncio.to_thread(run_stack.wait_for, stack_json, proc, 180)
        details = json.loads(stack_json.read_text())
        url = details["desk"]["url"]
        admin = Desk(url, Path(details["desk"]["admin_password_file"]).read_text().strip())
        await asyncio.to_thread(admin.login)
        for name, role in (("boss", "supervisor"), ("operator1", "agent")):
            await asyncio.to_thread(add_user, tmp_path, home, name, role, f"{name}-password-12345")
        boss, agent = Desk(url, "boss-password-12345", "boss"), Desk(url, "operator1-password-12345", "operator1")
        for desk in (boss, agent):
            await asyncio.to_thread(desk.login)
        redis_admin = redis.Redis.from_url(details["redis"]["url"],
                                           password=Path(details["redis"]["password_file"]).read_text().strip())
        center = Live(proc, site, home, postgres, admin, boss, agent, redis_admin)
        ami = AmiClient(details["ami"]["host"], details["ami"]["port"], details["ami"]["username"],
                        Path(details["ami"]["secret_file"]).read_text().strip())
        events = EventBuffer()
        ami.subscribe(events)
        await ami.connect()
        center.calls = Calls(ami, events, prefix="fm")
        yield center
        ami.close()
    finally:
        if center is not None:
            center.redis_admin.close()
            if "redis" in center.state:
                center.state["redis"].cleanup()
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 90)
        instance = Path(site["instance_dir"])
        shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                      ignore_errors=True)
        await asyncio.to_thread(postgres.stop)
        artifacts = PROJECT_ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "run.log", artifacts / "fault-matrix-run.log")
        (artifacts / "fault-matrix.json").write_text(json.dumps(REPORT, ensure_ascii=False, indent=2) + "\n")
        print("\n# fault matrix (calls lost / tickets lost / calls that reached the queue / recovery s):")
        for name, row in REPORT.items():
            print(f"#   {name}: {row}")
    assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-5000:]   # it stopped cleanly after it all


def _param(row: Fault):
    marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
    return pytest.param(row, id=row.name.split(" ")[0].lower(), marks=marks)


@pytest.mark.parametrize("row", [_param(r) for r in ROWS if r.covered_by])
def test_fault_run_by_another_test(row: Fault) -> None:
    """Not a skip: the row is run, in full, by another end-to-end module of the suite (named here)."""
    assert (Path(__file__).parents[2] / row.covered_by).is_file(), row.covered_by
    REPORT[row.name] = {"run by": row.covered_by}


@pytest.mark.parametrize("row", [_param(r) for r in ROWS if not r.covered_by])
async def test_fault(row: Fault, live: Live) -> None:
    await run_row(row, live)


async def run_row(row: Fault, live: Live) -> None:
    calls = live.calls
    assert calls is not None and row.inject and row.repair and row.recovered
    live.state.pop("saved", None)
    placed = []
    report = REPORT.setdefault(row.name, {})
    before = await calls.place()
    await calls.joined(before)
    placed.append(before)
    in_progress = await calls.waiting()
    await row.inject(live)
    if row.call_during:
        during = await calls.place()
        report["agi_during"] = await calls.joined(during)   # the citizen's call reaches the queue meanwhile
        placed.append(during)
    if row.while_down:
        await row.while_down(live)
    repaired = time.monotonic()
    await row.repair(live)
    await eventually(lambda: row.recovered(live), RECOVER_WITHIN, f"{row.name}: recovered")
    report["recovery_s"] = round(time.monotonic() - repaired, 1)
    after = await calls.place()
    await calls.joined(after)
    placed.append(after)
    if row.after:
        await row.after(live)
    waiting = await calls.waiting()
    survivors = [after] if row.cuts_calls else placed
    report["calls_lost"] = len([c for c in survivors if c not in waiting])
    report["reached_queue"] = len([c for c in placed if c in waiting or c in in_progress])
    if row.cuts_calls:
        # The calls waiting when the fault came (the harness's calls end after the originate's 30 s timeout, so
        # those of earlier rows are gone by then): what the citizen hears as the line dropping.
        report["calls_cut"] = len(in_progress - waiting)
    saved = live.state.get("saved", [])
    report["tickets_lost"] = len([t for t in saved if len(await asyncio.to_thread(tickets_titled, live.boss, t)) != 1])
    # What is stored: every call of the row is on the supervisor's call records.
    # What is stored: every call of the row reaches the supervisor's call records (the listener keeps the events
    # the database refused and retries them with back-off, so the calls of an outage arrive once it is over).
    deadline = time.monotonic() + RECOVER_WITHIN
    while missing := [cid for cid in placed if not await asyncio.to_thread(on_record, live.boss, cid)]:
        assert time.monotonic() < deadline, (
            f"calls not on record {RECOVER_WITHIN:.0f} s after the repair: {missing} (placed before, during and "
            f"after the fault: {placed})")
        await asyncio.sleep(0.5)
    report["on_record_s"] = round(time.monotonic() - repaired, 1)
    print(f"\n# {row.name}: {report}")
    assert report["calls_lost"] == 0 and report["tickets_lost"] == 0, report
