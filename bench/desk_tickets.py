"""Ticket creations per second through the desk's HTTP API, against the service called directly.

Starts the real desk (``agent_desk.app.create_app`` under uvicorn, in a child process on a free 127.0.0.1
port) on a fresh database (SQLite in a temp dir, or with --postgres a throwaway PostgreSQL 15 cluster)
and a real Redis, creates an agent with ``agent_desk.auth.sessions.create_user`` and logs it in over the
API. For each concurrency N, N clients (one httpx AsyncClient, N connections) POST /api/v1/tickets with
realistic Chinese drafts until TICKETS tickets are created; every response must be 201, anything else
is counted as an error. The baseline is the same number of tickets created by calling
``agent_desk.tickets.service.create`` directly in this process (one unit of work per ticket, the Redis
status projection installed as the app does it), no HTTP; the ratio API / direct is printed per level.

    .venv/bin/python -m bench.desk_tickets [--tickets 400] [--concurrency 1,8,32] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.desk_data import Drafts
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from bench.stats import pct

PASSWORD = "bench-horse-12345"
AGENT = "bench-agent"
SETTINGS_ENV = "BENCH_DESK_SETTINGS"


def serve() -> None:
    """Child process: the desk under uvicorn, as ``hotline run`` starts it (log level warning)."""
    import uvicorn

    from agent_desk.app import DeskSettings, create_app

    config = json.loads(os.environ.pop(SETTINGS_ENV))
    settings = DeskSettings(database_url=config["database_url"], redis_url=config["redis_url"],
                            redis_password=config["redis_password"])
    uvicorn.run(create_app(settings), host="127.0.0.1", port=config["port"], log_level="warning")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), to print the server's CPU cost per ticket."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Desk:
    """The desk in a child process, started and stopped by its pid."""

    def __init__(self, database_url: str, redis: RedisServer):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, **{SETTINGS_ENV: json.dumps({
            "database_url": database_url, "redis_url": redis.url, "redis_password": redis.password,
            "port": self.port})})
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.desk_tickets", "--serve"], env=env,
                                     cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the desk exited with status {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the desk did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def prepare(database_url: str) -> None:
    """Migrate to head and create the agent, the way an installation does it."""
    from agent_desk.auth.roles import Role
    from agent_desk.auth.sessions import create_user
    from agent_desk.db.migrate import upgrade
    from agent_desk.db.session import Database

    upgrade(database_url)
    db = Database(database_url)
    with db.session() as session:
        create_user(session, AGENT, PASSWORD, Role.AGENT, display_name="压测话务员")
    db.dispose()


def direct(database_url: str, redis: RedisServer, token: str, drafts: list[dict]) -> dict:
    """Baseline: service.create in this process, one unit of work per ticket, status projected to Redis."""
    from agent_desk.auth.sessions import authenticate
    from agent_desk.db.session import Database
    from agent_desk.settings import DeskSettings
    from agent_desk.tickets import service
    from agent_desk.tickets.status import StatusProjection

    settings = DeskSettings(database_url=database_url, redis_url=redis.url, redis_password=redis.password)
    db = Database(database_url)
    StatusProjection(settings.sync_redis()).install(db.sessions)
    with db.session() as session:
        who = authenticate(session, token)
    latencies: list[float] = []
    errors = 0
    cpu0, started = time.process_time(), time.perf_counter()
    for draft in drafts:
        t0 = time.perf_counter()
        try:
            with db.session() as session:
                created = service.create(session, who, service.TicketDraft.model_validate(draft))
                errors += not created.created
        except Exception as exc:  # counted, never hidden
            errors += 1
            print(f"# direct create failed: {exc!r}", file=sys.stderr, flush=True)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    db.dispose()
    return {"tps": len(drafts) / elapsed, "lat": latencies, "errors": errors, "cpu": cpu / len(drafts)}


async def over_http(desk: Desk, token: str, drafts: list[dict], concurrency: int) -> dict:
    """N clients at once, each POSTing its next draft as soon as its previous answer arrived."""
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for draft in drafts:
        queue.put_nowait(draft)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=desk.url, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                draft = queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    response = await client.post("/api/v1/tickets", json=draft)
                    status = response.status_code
                    ok = status == 201 and response.json().get("created") is True
                    key = f"{status} {response.text[:120]}"
                except httpx.HTTPError as exc:
                    ok, key = False, repr(exc)[:120]
                latencies.append(time.perf_counter() - t0)
                if not ok:
                    failures[key] = failures.get(key, 0) + 1

        cpu0, started = cpu_seconds(desk.proc.pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(desk.proc.pid) - cpu0
    return {"tps": len(drafts) / elapsed, "lat": latencies, "errors": sum(failures.values()),
            "failures": failures, "cpu": cpu / len(drafts)}


def login(desk: Desk) -> str:
    response = httpx.post(f"{desk.url}/api/v1/auth/login", json={"username": AGENT, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    return response.json()["token"]


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def main(tickets: int, levels: list[int], use_postgres: bool) -> None:
    gen = Drafts(seed=2026)
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as home:
        redis = RedisServer.start(Path(home) / "redis")
        pg = desk = None
        try:
            if use_postgres:
                from tests.support.postgres_server import PostgresServer
                pg = PostgresServer.start()
                database_url = pg.create_database("bench_desk")
                backend = "PostgreSQL 15 (fsync off, as in the tests)"
            else:
                database_url = f"sqlite:///{home}/desk.db"
                backend = "SQLite (WAL, synchronous=NORMAL)"
            prepare(database_url)
            desk = Desk(database_url, redis)
            token = login(desk)
            asyncio.run(over_http(desk, token, [gen.draft() for _ in range(20)], 4))  # warm-up
            base = direct(database_url, redis, token, [gen.draft() for _ in range(tickets)])
            print(f"# ticket creation, {tickets} tickets per level, {backend}, real Redis; desk under uvicorn in "
                  f"its own process (1 worker), clients in this process; 2 shared cores")
            print(f"# baseline: service.create directly, 1 process, no HTTP: {base['tps']:.1f} tickets/s, "
                  f"p50 {ms(pct(base['lat'], 50))} ms, p99 {ms(pct(base['lat'], 99))} ms, "
                  f"CPU {ms(base['cpu'])} ms/ticket, errors {base['errors']}")
            print(f"{'N':>3} | {'API t/s':>7} | {'direct t/s':>10} | {'API/direct':>10} | {'p50 ms':>7} | "
                  f"{'p99 ms':>7} | {'max ms':>7} | {'server CPU ms/t':>15} | errors")
            for n in levels:
                result = asyncio.run(over_http(desk, token, [gen.draft() for _ in range(tickets)], n))
                print(f"{n:>3} | {result['tps']:7.1f} | {base['tps']:10.1f} | {result['tps'] / base['tps']:10.2f} | "
                      f"{ms(pct(result['lat'], 50)):>7} | {ms(pct(result['lat'], 99)):>7} | "
                      f"{ms(max(result['lat'])):>7} | {ms(result['cpu']):>15} | "
                      f"{result['errors']}/{tickets}", flush=True)
                for key, count in result["failures"].items():
                    print(f"#   {count} × {key}", flush=True)
        finally:
            if desk is not None:
                desk.stop()
            if pg is not None:
                pg.stop()
            redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL 15 instead of SQLite")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.serve:
        serve()
    else:
        main(args.tickets, [int(x) for x in args.concurrency.split(",")], args.postgres)
