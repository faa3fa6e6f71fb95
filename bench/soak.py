"""Soak (issue 17, point 5): mixed traffic on the real stack for a given time, with faults of the fault matrix
injected at random (seeded), and what it cost.

The stack is the real ``hotline run`` (Asterisk, Redis, the supervised media server, desk, listener and speech
worker) on a throwaway PostgreSQL cluster. Meanwhile:

- citizens' calls arrive (Poisson, ``--call-every`` s apart on average) through the 12345 entry dialplan
  (the operator's AMI Originate of a Local channel, as ``tests/support/live_center.Calls`` places them), wait
  in the general queue and are answered by stand-in agents (queue members that answer, talk and hang up,
  ``tests/support/stand_in.py``); now and then (``--transfer-share``) an answered citizen is handed on: the
  citizen's channel is sent back into the queue dialplan (AMI Redirect), so it queues again and reaches a
  second agent;
- several users work tickets over the desk's HTTP API: agents (话务员) create them and dispatch them, a unit
  (承办单位) signs and replies, a supervisor approves, calls back and closes, every ticket to 办结;
  a call refused because a part is down (5xx, connection refused) is retried as a person would (every 2 s);
- a supervisor polls the wallboard every 2 s;
- every ``--fault-every`` s on average, one fault of the matrix: a supervised process killed (SIGKILL), Redis
  or PostgreSQL stopped and started again, the listener's AMI connection cut. Asterisk restarts are left out
  (they end the calls in progress: the fault matrix measures them);
- every ``--sample-every`` s, the RSS of every process (``/proc/<pid>/status``).

Reported: per fault, calls lost (never reached the queue, or left it other than to an agent or at the
harness's 30 s originate limit), tickets lost (acknowledged and not found, or never saved, or not closed at the
end), recovery time (fault → the part doing its work again); per process, the RSS slope (scipy's linregress over
each pid's samples after its warm-up, KB/min) and whether it is flat; the log lines at ERROR/CRITICAL (and
tracebacks) that came outside every fault's window (fault → recovered + ``GRACE`` s): nobody handled those.

    .venv/bin/python -m bench.soak --minutes 30 [--seed 17] [--fault-every 90] [--out soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import re
import signal
import shutil
import sys
import tempfile
import time
import urllib.error
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis
from scipy import stats

from agent_desk.calls import listener
from agent_desk.supervision.wallboard import SNAPSHOT_KEY
from bench.desk_data import Drafts
from hotline.ami import AmiClient, EventBuffer
from hotline.contracts import processes as process_contract
from hotline.contracts.asr import WORKERS_KEY
from hotline.paths import PROJECT_ROOT, Paths
from hotline.secrets import SecretStore
from hotline.site import load_site
from launcher import asterisk as runner
from launcher import stack
from launcher.redis import LocalRedis
from tests.e2e import test_run_stack as run_stack
from tests.support import faults
from tests.support.live_center import Calls, Desk, add_user, start_run
from tests.support.postgres_server import PostgresServer
from tests.support.stand_in import stand_in_agent

FAULTS = ("media", "desk", "listener", "asr-0", "redis", "postgres", "ami-cut")
GRACE = 15.0            # seconds after a fault's recovery in which what it caused is still its doing
RECOVER_WITHIN = 90.0   # a fault not recovered by then is reported as such (recovery_s None)
HARNESS_LIMIT = 28.0    # s after placing it from which the harness's own 30 s originate limit may end a call
RETRY_EVERY = 2.0
RETRY_FOR = 180.0       # a user gives up a ticket step after this long of refusals: the ticket counts as lost
WARMUP = 30.0           # s of each pid's life left out of its RSS slope (imports, caches, pools filling)
# Flat: growing under 64 KB/min (about 90 MB a day, a third of a Python process's RSS here), or no trend at all
# (r² < 0.5: the samples scatter, they do not climb).
FLAT_KB_MIN, FLAT_R2 = 64.0, 0.5
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ )?(ERROR|CRITICAL)[: ]")   # ours; uvicorn's
TRANSIENT = {500, 502, 503, 504}


@dataclass
class FaultRun:
    kind: str
    at_s: float                 # seconds into the soak
    recovery_s: float | None = None
    calls_lost: int = 0
    tickets_lost: int = 0
    log_errors: int = 0         # ERROR/CRITICAL lines in its window (said and handled: the part recovered)
    start: float = 0.0          # wall clock
    end: float = 0.0            # wall clock: recovered + GRACE


@dataclass
class CallRun:
    cid: str
    placed: float               # wall clock
    joined: bool = False
    answered: int = 0           # how many agents it reached (2 after a transfer)
    transferred: bool = False
    left: str = ""              # how it left the queue other than to an agent: abandon after n s


@dataclass
class TicketRun:
    tag: str
    started: float
    number: str = ""
    steps: list[str] = field(default_factory=list)
    failed: str = ""            # the step given up, and why


# ── the center ──────────────────────────────────────────────────────────────────
class Center:
    """The live center and its people."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.postgres = PostgresServer.start(workdir / "pg-log")
        self.proc, self.site, self.home = start_run(workdir, self.postgres.create_database())
        self.log = workdir / "run.log"
        self.redis_restarted: LocalRedis | None = None

    def up(self) -> None:
        stack_json = self.home / "run" / "stack.json"
        run_stack.wait_for(stack_json, self.proc, 240)
        details = json.loads(stack_json.read_text())
        self.details = details
        url = details["desk"]["url"]
        self.admin = Desk(url, Path(details["desk"]["admin_password_file"]).read_text().strip())
        self.admin.login()
        self.redis_url = details["redis"]["url"]
        self.redis_password = Path(details["redis"]["password_file"]).read_text().strip()
        self.redis = redis.Redis.from_url(self.redis_url, password=self.redis_password)
        users = [("boss", "supervisor", None), ("operator1", "agent", None), ("operator2", "agent", None),
                 ("operator3", "agent", None)]
        for name, role, _ in users:
            add_user(self.workdir, self.home, name, role, f"{name}-password-12345")
        self.boss = Desk(url, "boss-password-12345", "boss")
        self.agents = [Desk(url, f"operator{i}-password-12345", f"operator{i}") for i in (1, 2, 3)]
        for desk in (self.boss, *self.agents):
            desk.login()
        unit = next(u for u in self.agents[0].get("/units?q=%E6%B0%B4%E5%8A%A1") if u.get("code"))
        self.unit_code = unit["code"]
        add_unit_user(self.workdir, self.home, "water", unit["code"], "water-password-12345")
        self.unit = Desk(url, "water-password-12345", "water")
        self.unit.login()

    async def connect_ami(self) -> tuple[AmiClient, EventBuffer]:
        ami = self.details["ami"]
        client = AmiClient(ami["host"], ami["port"], ami["username"], Path(ami["secret_file"]).read_text().strip())
        events = EventBuffer()
        client.subscribe(events)
        await client.connect()
        return client, events

    def asterisk(self):
        paths = Paths(home=self.home, plan=PROJECT_ROOT / "asterisk_conf" / "numbers.yaml",
                      site=self.workdir / "site.yaml")
        return stack.asterisk_instance(paths, load_site(paths.site), SecretStore(paths.secrets))

    def pids(self) -> dict[str, int]:
        """Every process of the center, by name (the supervised ones as the supervisor reports them to Redis)."""
        found = {"launcher": self.proc.pid, "postgres": self.postgres.proc.pid}
        with contextlib.suppress(OSError, ValueError):
            found["asterisk"] = int(self.asterisk().pid_file.read_text().strip())
        redis_pids = faults.children(self.proc.pid, "redis-server")
        if self.redis_restarted is not None and self.redis_restarted.proc is not None:
            redis_pids = [self.redis_restarted.proc.pid]
        if redis_pids:
            found["redis"] = redis_pids[0]
        with contextlib.suppress(redis.RedisError, OSError):
            for name, raw in self.redis.hgetall(process_contract.KEY).items():
                record = process_contract.ProcessRecord.decode(raw)
                if record.pid:
                    found[name.decode()] = record.pid
        return found

    def process(self, name: str) -> dict:
        raw = self.redis.hget(process_contract.KEY, name)
        return process_contract.ProcessRecord.decode(raw).model_dump() if raw else {}

    def stop(self) -> None:
        """Everything this center started, whatever state the soak left it in."""
        with contextlib.suppress(Exception):
            self.redis.close()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(90)
        finally:
            if self.redis_restarted is not None:
                self.redis_restarted.stop()
            instance = Path(self.site["instance_dir"])
            shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                          ignore_errors=True)
            self.postgres.stop()


def add_unit_user(workdir: Path, home: Path, username: str, unit: str, password: str) -> None:
    import os
    import subprocess

    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(workdir / "site.yaml")}
    added = subprocess.run([sys.executable, "-m", "launcher.cli", "desk", "add-user", username, "--role", "unit",
                            "--unit", unit, "--password-stdin"], input=password + "\n", text=True, env=env,
                           cwd=PROJECT_ROOT, capture_output=True, timeout=120)
    assert added.returncode == 0, added.stderr


# ── the soak ────────────────────────────────────────────────────────────────────
class Soak:
    def __init__(self, center: Center, *, minutes: float, seed: int, fault_every: float, call_every: float,
                 transfer_share: float, sample_every: float, faults_allowed: tuple[str, ...] = FAULTS):
        self.center, self.seconds, self.rng = center, minutes * 60, random.Random(seed)
        self.fault_rng = random.Random(seed)   # its own: the faults come in the same order whatever the traffic does
        self.fault_every, self.call_every, self.transfer_share = fault_every, call_every, transfer_share
        self.sample_every, self.faults_allowed = sample_every, faults_allowed
        self.calls: dict[str, CallRun] = {}
        self.tickets: list[TicketRun] = []
        self.faults: list[FaultRun] = []
        self.samples: list[tuple[str, int, float, int]] = []   # name, pid, wall clock, RSS KB
        self.wallboard = {"polls": 0, "ok": 0, "refused": 0}
        self.started = 0.0
        self.drafts = Drafts(seed)
        self.done = asyncio.Event()

    # calls
    async def call_traffic(self, calls: Calls, events: EventBuffer) -> None:
        pending: set[asyncio.Task] = set()
        while not self.done.is_set():
            cid = await calls.place()
            self.calls[cid] = CallRun(cid, time.time())
            task = asyncio.create_task(self.follow(cid, calls, events))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await self.pause(self.rng.expovariate(1 / self.call_every))
        await asyncio.gather(*pending)

    async def follow(self, cid: str, calls: Calls, events: EventBuffer) -> None:
        """Until the call reached an agent (a second one after a transfer) or left the queue without one."""
        run = self.calls[cid]
        try:
            await calls.joined(cid)
            run.joined = True
        except AssertionError:
            return
        since = 0
        while True:
            left = await events.wait(lambda e: e.get("Linkedid") == cid and e.name in (
                "AgentConnect", "QueueCallerAbandon"), 120, since)
            if left is None:
                run.left = "neither answered nor gone after 120 s"
                return
            since = events.events.index(left) + 1
            if left.name == "QueueCallerAbandon":
                run.left = f"left the queue unanswered {time.time() - run.placed:.0f} s after it was placed"
                return
            run.answered += 1
            if run.answered > 1 or self.rng.random() >= self.transfer_share:
                return
            await asyncio.sleep(1.0)
            try:   # handed on: the citizen's side of the bridge back into the queue, to the next agent
                await calls.ami.action({"Action": "Redirect", "Channel": left["Channel"], "Context": "hotline-queue",
                                        "Exten": "s", "Priority": "1"})
                run.transferred = True
            except Exception:   # the agent had hung up meanwhile: nothing to hand on
                return

    def call_lost(self, run: CallRun) -> bool:
        """Never queued, or gone from the queue unanswered before the harness's own originate limit."""
        if not run.joined:
            return True
        if run.answered:
            return False
        match = re.match(r"left the queue unanswered (\d+) s", run.left)
        return not (match and int(match.group(1)) >= HARNESS_LIMIT)

    # tickets
    async def ticket_traffic(self, user: int) -> None:
        while not self.done.is_set():
            await self.one_ticket(user)
            await self.pause(self.rng.uniform(1, 4))

    async def one_ticket(self, user: int) -> None:
        agent, unit, boss = self.center.agents[user], self.center.unit, self.center.boss
        tag = f"SK{len(self.tickets):05d}"
        run = TicketRun(tag, time.time())
        self.tickets.append(run)
        draft = self.drafts.draft()
        draft["title"] = f"{draft['title'][:40]} {tag}"
        draft["content"] = f"{draft['content']}（{tag}）"
        body = await self.step(run, agent, "POST", "/tickets", draft, created=True)
        if body is None:
            return
        number = body.get("number", "")
        if not number:
            run.failed = f"create answered {body}"
            return
        run.number = number
        flow = [(agent, "dispatch", {"host_unit": self.center.unit_code}), (unit, "sign", None),
                (unit, "reply", {"content": "已安排人员现场处理，问题已解决。"}), (boss, "approve_reply", None),
                (boss, "callback", {"result": "satisfied", "solved": True}),
                (boss, "seal_final_opinion", {"opinion": "诉求已办理完毕，市民满意。"})]
        for desk, action, payload in flow:
            if await self.step(run, desk, "POST", f"/tickets/{number}/actions/{action}", payload) is None:
                return
            run.steps.append(action)
            await asyncio.sleep(self.rng.uniform(0.2, 1.0))

    async def step(self, run: TicketRun, desk: Desk, method: str, path: str, body: dict | None,
                   created: bool = False) -> dict | None:
        """One request, retried while the desk refuses for a part being down, as a person would."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                status, answer = await asyncio.to_thread(desk.send, method, path, body)
            except (OSError, urllib.error.URLError, json.JSONDecodeError) as exc:
                status, answer = 0, {"error": str(exc)}
            if status == 401:   # a session of a desk that restarted: log in again
                with contextlib.suppress(OSError, urllib.error.URLError):
                    await asyncio.to_thread(desk.login)
            elif status in (200, 201):
                return answer
            elif status == 409 and not created and path.endswith(("/sign", "/reply", "/approve_reply", "/callback",
                                                                     "/seal_final_opinion", "/dispatch")):
                # A retry of a step the desk had done before its answer was lost: the state moved on already.
                return answer
            elif status not in TRANSIENT and status != 0:
                run.failed = f"{path}: {status} {answer}"
                return None
            if time.monotonic() > deadline:
                run.failed = f"{path}: refused for {RETRY_FOR:.0f} s (last {status} {answer})"
                return None
            await asyncio.sleep(RETRY_EVERY)

    # the supervisor
    async def wallboard_poller(self) -> None:
        while not self.done.is_set():
            self.wallboard["polls"] += 1
            try:
                status, _ = await asyncio.to_thread(self.center.boss.send, "GET", "/wallboard")
            except (OSError, urllib.error.URLError, json.JSONDecodeError):
                status = 0
            if status == 401:
                with contextlib.suppress(OSError, urllib.error.URLError):
                    await asyncio.to_thread(self.center.boss.login)
            self.wallboard["ok" if status == 200 else "refused"] += 1
            await self.pause(2.0)

    # memory
    async def sampler(self) -> None:
        while not self.done.is_set():
            now = time.time()
            for name, pid in (await asyncio.to_thread(self.center.pids)).items():
                rss = rss_kb(pid)
                if rss is not None:
                    self.samples.append((name, pid, now, rss))
            await self.pause(self.sample_every)

    # faults
    async def fault_injector(self) -> None:
        await self.pause(min(self.fault_every, self.seconds / 4))
        while not self.done.is_set():
            kind = self.fault_rng.choice(self.faults_allowed)
            run = FaultRun(kind, round(time.time() - self.started, 1), start=time.time())
            self.faults.append(run)
            began = time.monotonic()
            try:
                await asyncio.wait_for(self.inject(kind), RECOVER_WITHIN)
                run.recovery_s = round(time.monotonic() - began, 1)
            except TimeoutError:
                run.recovery_s = None
            run.end = time.time() + GRACE
            await self.pause(self.fault_rng.expovariate(1 / self.fault_every) + GRACE)

    async def inject(self, kind: str) -> None:
        """The fault, then waits until the part it hit does its work again."""
        center = self.center
        if kind in ("media", "desk", "listener", "asr-0"):
            before = await asyncio.to_thread(center.process, kind)
            faults.kill_process(before["pid"])
            await until(lambda: (p := center.process(kind)).get("state") == "running" and p["pid"] != before["pid"])
            if kind == "media":
                await until(lambda: stack.port_answers("127.0.0.1", center.site["agi_port"]))
            elif kind == "desk":
                await until(center.admin.answers)
            elif kind == "listener":   # a snapshot of the new one (its version counts from 0 again: the time)
                killed = int(time.time())
                await until(lambda: board_time(center) > killed)
            else:
                center.redis.delete(WORKERS_KEY)
                await until(lambda: center.redis.hkeys(WORKERS_KEY))
        elif kind == "redis":
            if center.redis_restarted is not None:
                await asyncio.to_thread(center.redis_restarted.stop)
            else:
                outage = faults.RedisOutage(center.proc.pid, center.site["redis_url"], center.home / "redis")
                await asyncio.to_thread(outage.stop)
            await asyncio.sleep(3)
            center.redis_restarted = LocalRedis(center.site["redis_url"],
                                                (center.home / "redis" / "users.acl").read_text(),
                                                center.home / "redis")
            await asyncio.to_thread(center.redis_restarted.start)
            await until(lambda: center.boss.send("GET", "/wallboard")[0] == 200)
        elif kind == "postgres":
            await asyncio.to_thread(faults.stop_postgres, center.postgres)
            await asyncio.sleep(3)
            await asyncio.to_thread(faults.start_postgres, center.postgres)
            await until(lambda: center.boss.send("GET", "/tickets?limit=1")[0] == 200)
        elif kind == "ami-cut":
            pid = center.process("listener")["pid"]
            cut = await asyncio.to_thread(faults.cut_tcp, pid, center.site["ami_port"])
            await until(lambda: bool(faults.tcp_connections(pid, center.site["ami_port"]) - cut)
                        and center.boss.send("GET", "/wallboard")[1].get("connected"))
        else:
            raise ValueError(kind)

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), seconds)

    # the run
    async def run(self, agents: int = 3) -> dict:
        ami, events = await self.center.connect_ami()
        try:
            return await self.traffic(ami, events, agents)
        finally:
            ami.close()

    async def traffic(self, ami: AmiClient, events: EventBuffer, agents: int) -> dict:
        calls = Calls(ami, events, prefix="sk")
        self.started = time.time()
        async with contextlib.AsyncExitStack() as members:
            for i in range(agents):
                await members.enter_async_context(stand_in_agent(ami, f"soak{i}", 4 + 3 * i))
            tasks = [asyncio.create_task(self.call_traffic(calls, events)), asyncio.create_task(self.sampler()),
                     asyncio.create_task(self.wallboard_poller()), asyncio.create_task(self.fault_injector()),
                     *(asyncio.create_task(self.ticket_traffic(u)) for u in range(len(self.center.agents)))]
            await self.pause(self.seconds)
            self.done.set()
            await asyncio.gather(*tasks)
        return await asyncio.to_thread(self.report)

    def report(self) -> dict:
        center = self.center
        # Tickets: every acknowledged one found once, closed; every one started saved.
        lost_tickets = []
        for run in self.tickets:
            found = [t for t in center.boss.get(f"/tickets?q={run.tag}&limit=10")["items"] if run.tag in t["title"]]
            if len(found) != 1 or (run.number and found[0]["number"] != run.number) or (
                    not run.failed and len(run.steps) == 6 and found[0]["state"] != "closed"):
                lost_tickets.append((run, f"found {len(found)}: {[t['state'] for t in found]}"))
            elif run.failed:
                lost_tickets.append((run, run.failed))
        lost_calls = [run for run in self.calls.values() if self.call_lost(run)]
        for fault in self.faults:
            fault.calls_lost = len([c for c in lost_calls if fault.start - 30 <= c.placed <= fault.end])
            fault.tickets_lost = len([t for t, _ in lost_tickets if fault.start - RETRY_FOR <= t.started <= fault.end])
        errors = log_errors(center.log)
        unhandled = []
        for stamp, line in errors:
            window = next((f for f in self.faults if f.start - 1 <= stamp <= f.end), None)
            if window is not None:
                window.log_errors += 1
            else:
                unhandled.append(line)
        return {
            "seconds": round(time.time() - self.started),
            "calls": {"placed": len(self.calls), "reached_queue": sum(c.joined for c in self.calls.values()),
                      "answered": sum(c.answered > 0 for c in self.calls.values()),
                      "transferred": sum(c.transferred for c in self.calls.values()),
                      "transferred_reached_second_agent": sum(c.answered > 1 for c in self.calls.values()),
                      "ended_by_harness_limit": sum(not c.answered and not self.call_lost(c)
                                                    for c in self.calls.values()),
                      "lost": len(lost_calls), "lost_ids": [(c.cid, c.left or "never queued") for c in lost_calls]},
            "tickets": {"started": len(self.tickets), "closed": sum(len(t.steps) == 6 for t in self.tickets),
                        "lost": len(lost_tickets), "lost_detail": [(t.tag, why) for t, why in lost_tickets][:20]},
            "wallboard": self.wallboard,
            # the listener's own check found the board's waiting callers wrong and rebuilt it (an event lost or misread)
            "wallboard_corrected": center.log.read_text(errors="replace").count(listener.BOARD_CORRECTED),
            "faults": [{k: v for k, v in asdict(f).items() if k not in ("start", "end")} for f in self.faults],
            "memory": memory_slopes(self.samples),
            "unhandled_log_errors": unhandled[:50],
            "unhandled_log_error_count": len(unhandled),
        }


def board_time(center: Center) -> float:
    """When the wallboard snapshot in Redis was made (epoch seconds, to the second); 0 without one."""
    made = json.loads(center.redis.get(SNAPSHOT_KEY) or "{}").get("generated_at")
    return dt.datetime.fromisoformat(made).timestamp() if made else 0.0


async def until(check, timeout: float = RECOVER_WITHIN) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await asyncio.to_thread(check):
                return
        except (OSError, urllib.error.URLError, KeyError, redis.RedisError, json.JSONDecodeError):
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def memory_slopes(samples: list[tuple[str, int, float, int]], bound_kb_min: float | None = None) -> dict:
    """Per process: the RSS slope (KB/min) of its longest-lived pid, its samples after ``WARMUP`` s of life."""
    by_pid: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for name, pid, stamp, rss in samples:
        by_pid.setdefault((name, pid), []).append((stamp, rss))
    result: dict[str, dict] = {}
    for (name, pid), points in sorted(by_pid.items(), key=lambda kv: -(kv[1][-1][0] - kv[1][0][0])):
        if name in result:
            continue   # a shorter life of a restarted process: the longest one says more
        start = points[0][0]
        steady = [(t, r) for t, r in points if t - start >= WARMUP] or points
        entry: dict = {"pid": pid, "samples": len(steady), "rss_kb_first": steady[0][1], "rss_kb_last": steady[-1][1],
                       "minutes": round((steady[-1][0] - steady[0][0]) / 60, 1)}
        if len(steady) >= 3 and steady[-1][0] > steady[0][0]:
            fit = stats.linregress([(t - start) / 60 for t, _ in steady], [r for _, r in steady])
            r2 = float(fit.rvalue) ** 2 if fit.rvalue == fit.rvalue else 0.0   # NaN: constant RSS
            entry["slope_kb_min"] = round(float(fit.slope), 1)
            entry["r2"] = round(r2, 2)
            entry["flat"] = bool(fit.slope < FLAT_KB_MIN or r2 < FLAT_R2)
        result[name] = entry
    return result


def log_errors(log: Path) -> list[tuple[float, str]]:
    """ERROR/CRITICAL lines of the center's log (with their time), and tracebacks (at the time of the line
    before them)."""
    found: list[tuple[float, str]] = []
    last = 0.0
    for line in log.read_text(errors="replace").splitlines():
        stamped = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ", line)
        if stamped:
            last = dt.datetime.strptime(stamped.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
        if LOG_LINE.match(line) or line.startswith("Traceback"):
            found.append((last, line[:300]))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--fault-every", type=float, default=90, help="mean seconds between faults")
    parser.add_argument("--call-every", type=float, default=4, help="mean seconds between calls")
    parser.add_argument("--transfer-share", type=float, default=0.1)
    parser.add_argument("--sample-every", type=float, default=5, help="RSS sample period, s")
    parser.add_argument("--agents", type=int, default=3, help="stand-in agents answering (talk 4, 7, 10 … s)")
    parser.add_argument("--out", type=Path, help="write the report (JSON) here")
    args = parser.parse_args(argv)
    report = soak(args.minutes, args.seed, args.fault_every, args.call_every, args.transfer_share, args.sample_every,
                  agents=args.agents)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


def soak(minutes: float, seed: int = 17, fault_every: float = 90, call_every: float = 4, transfer_share: float = 0.1,
         sample_every: float = 5, workdir: Path | None = None, agents: int = 3) -> dict:
    """Starts a center, soaks it, stops it; the report (``workdir``: kept, with the center's log, if given)."""
    keep = workdir is not None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    center = Center(workdir)
    report: dict = {}
    try:
        center.up()
        runner_ = Soak(center, minutes=minutes, seed=seed, fault_every=fault_every, call_every=call_every,
                       transfer_share=transfer_share, sample_every=sample_every)
        report = asyncio.run(runner_.run(agents))
    finally:
        center.stop()
        report["stopped_cleanly"] = center.proc.returncode == 0
        if not keep:
            shutil.copy(center.log, Path(tempfile.gettempdir()) / "soak-run.log")
            shutil.rmtree(workdir, ignore_errors=True)
    return report


if __name__ == "__main__":
    main()
