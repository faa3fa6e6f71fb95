"""KPIs, the 观/管/评 views and a monthly XLSX report over a million tickets (agent_desk.supervision).

Generates ROWS tickets (default 1,000,000) with bench.ticket_search's generator (a year of realistic
tickets: states by age, 20 sub-platforms, 100 host units, satisfaction verdicts), then the lifecycle events
the KPIs read (签收 for every ticket a unit signed, 审核通过 / 直接办结 for every completed one) and
CALLS calls (default 1,000,000: 95 % reach a queue, waits and talk times drawn around 15 s and 4 min,
abandons), all with SQLAlchemy Core bulk inserts. Then times each request through the real desk app over
HTTP (FastAPI TestClient, a supervisor's token): /api/v1/kpi by unit for the last full month and for the
year so far, by area and by line for the month, each view for the month, and the monthly report as XLSX.

    .venv/bin/python -m bench.reports_1m [--rows 1000000] [--calls 1000000] [--postgres] [--repeat 3] [--explain]

SQLite as the desk configures it; PostgreSQL (a throwaway server, tests/support/postgres_server.py) after
VACUUM ANALYZE, as autovacuum would do after a bulk load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from sqlalchemy import insert, select

from agent_desk.db import models as m
from agent_desk.db.session import Database
from agent_desk.settings import PROVINCE_TZ
from bench.desk_data import LINES, WEIGHT, cities
from bench.stats import boss_client, timed_gets
from bench.ticket_search import generate, scratch_database, settle, size_of, weighted

UTC = dt.UTC
SIGNED = {"signed", "return_requested", "consultation", "replied", "awaiting_callback", "closed", "unsatisfied",
          "appealed"}
COMPLETE = {"awaiting_callback", "closed", "unsatisfied", "appealed"}


def add_events(db: Database, batch: int, seed: int) -> int:
    """签收 / 审核通过 / 直接办结 events consistent with each ticket's state (what the KPIs read)."""
    rng = random.Random(seed)
    written, last_id = 0, 0
    events = m.TicketEvent.__table__
    while True:
        with db.engine.connect() as conn:
            rows = conn.execute(select(m.Ticket.id, m.Ticket.state, m.Ticket.direct_resolution, m.Ticket.created_at,
                                       m.Ticket.dispatched_at, m.Ticket.closed_at, m.Ticket.due_at)
                                .where(m.Ticket.id > last_id).order_by(m.Ticket.id).limit(batch)).all()
        if not rows:
            return written
        chunk = []
        for tid, state, direct, created, dispatched, closed, due in rows:
            seq = 1
            base = {"ticket_id": tid, "actor": "bench", "data": {}}
            chunk.append(base | {"seq": seq, "at": created, "role": "agent", "action": "accept", "from_state": None,
                                 "to_state": "accepted"})
            if direct and state != "refused":
                seq += 1
                chunk.append(base | {"seq": seq, "at": created + dt.timedelta(minutes=5), "role": "agent",
                                     "action": "resolve_directly", "from_state": "accepted",
                                     "to_state": "awaiting_callback"})
            elif dispatched is not None and state in SIGNED:
                seq += 1
                late = rng.random() < 0.04
                signed = dispatched + dt.timedelta(hours=rng.uniform(24.5, 60) if late else rng.uniform(0.1, 20))
                chunk.append(base | {"seq": seq, "at": signed, "role": "unit", "action": "sign",
                                     "from_state": "dispatched", "to_state": "signed"})
                if state in COMPLETE:
                    seq += 1
                    approved = closed or min(due, signed + dt.timedelta(days=2))
                    chunk.append(base | {"seq": seq, "at": approved, "role": "platform", "action": "approve_reply",
                                         "from_state": "replied", "to_state": "awaiting_callback"})
            last_id = tid
        with db.engine.begin() as conn:
            conn.execute(insert(events), chunk)
        written += len(chunk)
        print(f"\r# events: {written:>10,} (tickets up to id {last_id:,})", end="", flush=True)


def add_calls(db: Database, count: int, batch: int, seed: int) -> None:
    """A year of inbound calls up to now: line and sub-platform weighted as the tickets are."""
    rng = random.Random(seed + 1)
    now = dt.datetime.now(UTC)
    start = now - dt.timedelta(days=365)
    codes = [c.code for c in cities()]
    weights = [WEIGHT.get(c, 1) for c in codes]
    span = (now - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    table = m.Call.__table__
    done = 0
    while done < count:
        chunk = []
        for i in range(done, min(count, done + batch)):
            started = start + dt.timedelta(seconds=offsets[i])
            row = {"call_id": f"bench-{i}", "line": weighted(rng, LINES),
                   "subplatform": rng.choices(codes, weights)[0], "started_at": started, "queued_at": None,
                   "answered_at": None, "ended_at": None, "outcome": "ivr_only", "transfers": []}
            if rng.random() < 0.95:
                row["queued_at"] = started + dt.timedelta(seconds=rng.uniform(20, 90))
                wait = rng.expovariate(1 / 15)
                if rng.random() < 0.9:
                    row["answered_at"] = row["queued_at"] + dt.timedelta(seconds=wait)
                    row["ended_at"] = row["answered_at"] + dt.timedelta(seconds=rng.gammavariate(2, 120))
                    row["outcome"] = "answered"
                else:
                    row["ended_at"] = row["queued_at"] + dt.timedelta(seconds=wait)
                    row["outcome"] = "abandoned"
            chunk.append(row)
        with db.engine.begin() as conn:
            conn.execute(insert(table), chunk)
        done += len(chunk)
        print(f"\r# calls: {done:>10,}/{count:,}", end="", flush=True)
    print(flush=True)


def run(url: str, repeat: int, explain: bool, db: Database) -> None:
    client, auth = boss_client(url)
    today = dt.datetime.now(PROVINCE_TZ).date()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).isoformat()
    month = f"period=month&date={last_month}"
    cases = [
        ("/api/v1/kpi by unit, month", f"/api/v1/kpi?by=unit&{month}"),
        ("/api/v1/kpi by unit, drill into a city", f"/api/v1/kpi?by=unit&parent=460100&{month}"),
        ("/api/v1/kpi by unit, year so far", f"/api/v1/kpi?by=unit&period=year&date={today.isoformat()}"),
        ("/api/v1/kpi by area, month", f"/api/v1/kpi?by=area&{month}"),
        ("/api/v1/kpi by line (tickets + calls), month", f"/api/v1/kpi?by=line&metric=answer&{month}"),
        ("/api/v1/views/overview, month", f"/api/v1/views/overview?{month}"),
        ("/api/v1/views/process, month", f"/api/v1/views/process?{month}"),
        ("/api/v1/views/evaluation, month", f"/api/v1/views/evaluation?{month}"),
        ("/api/v1/reports/monthly xlsx", f"/api/v1/reports/monthly?format=xlsx&date={last_month}"),
        ("/api/v1/reports/weekly json", f"/api/v1/reports/weekly?date={last_month}"),
    ]
    print(f"# {repeat} timed runs per request after 1 warm-up; last full month = {last_month[:7]}")
    for name, response in timed_gets(client, auth, cases, repeat):
        if name.startswith("/api/v1/kpi by unit, month"):
            totals = response.json()["totals"]
            rates = {k: (round(v["rate"] * 100, 2) if v and v.get("rate") is not None else None)
                     for k, v in totals["metrics"].items() if k != "aht"}
            print(f"#   totals: accepted {totals['accepted']:,}, offered {totals['offered']:,}; rates % {rates}")
    if explain:
        explain_kpi(db, last_month)


def explain_kpi(db: Database, day: str) -> None:
    """The plan of the KPI query (by unit, month) exactly as the desk sends it."""
    from sqlalchemy import event

    from agent_desk.supervision import kpi
    from agent_desk.supervision.periods import period_of

    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "AS responded" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    with db.session() as s:
        kpi.group_rows(s, kpi.Context(db.dialect), period_of("month", dt.date.fromisoformat(day)), "unit")
    event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = seen[0]
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        cursor = conn.connection.cursor()
        cursor.execute(prefix + statement, parameters)
        for row in cursor.fetchall():
            print("#   plan:", " | ".join(str(c) for c in row))


def main(args) -> None:
    with scratch_database(args.postgres, "reports") as (url, path, backend, _pg):
        db = Database(url)
        print(f"# KPIs and reports over {args.rows:,} tickets and {args.calls:,} calls, {backend}; 2 shared cores")
        gen = generate(db, args.rows, args.batch, args.seed)
        t0 = time.perf_counter()
        events = add_events(db, args.batch, args.seed)
        print(flush=True)
        add_calls(db, args.calls, args.batch, args.seed)
        print(f"# events {events:,} and calls in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        settle(db, False)
        db.dispose()
        db = Database(url)
        print(f"# tickets generated in {gen.seconds:.1f} s; settle {time.perf_counter() - t0:.1f} s; "
              f"{size_of(db, path)}")
        run(url, args.repeat, args.explain, db)
        db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per INSERT batch")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per request")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    parser.add_argument("--explain", action="store_true", help="print the plan of the KPI query (month, by unit)")
    main(parser.parse_args())
