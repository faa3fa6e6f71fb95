"""回拨与回访 figures (issue 14, point 5) over a large ticket table: GET /api/v1/revisits/figures for a day, a week
and a month, and the monthly report (which carries them), through the real desk app over HTTP.

Generates ROWS tickets with bench.ticket_search's generator and the lifecycle events of bench.reports_1m (签收,
审核通过 / 直接办结 → 待回访), then a ``callback`` event (the verdict, from the ticket's own satisfaction and
solved columns) for every ticket past 待回访 that has one: the events the figures read. SQLite as the desk
configures it, or a throwaway PostgreSQL.

    .venv/bin/python -m bench.revisit_figures [--rows 200000] [--postgres] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from sqlalchemy import func, insert, select

from agent_desk.db import models as m
from agent_desk.db.session import Database
from agent_desk.settings import PROVINCE_TZ
from bench.reports_1m import add_events
from bench.stats import boss_client, timed_gets
from bench.ticket_search import generate, scratch_database, settle, size_of

VERDICT_STATES = ("closed", "unsatisfied", "appealed")


def add_verdicts(db: Database, batch: int) -> int:
    """One ``callback`` event per ticket past 待回访 with a verdict, an hour after it reached 待回访."""
    E = m.TicketEvent
    written, last_id = 0, 0
    while True:
        with db.engine.connect() as conn:
            reached = (select(E.ticket_id, func.max(E.at).label("at"), func.max(E.seq).label("seq"))
                       .where(E.to_state == "awaiting_callback").group_by(E.ticket_id).subquery())
            rows = conn.execute(select(m.Ticket.id, m.Ticket.state, m.Ticket.satisfaction, m.Ticket.solved,
                                       reached.c.at, reached.c.seq)
                                .join(reached, reached.c.ticket_id == m.Ticket.id)
                                .where(m.Ticket.id > last_id, m.Ticket.state.in_(VERDICT_STATES),
                                       m.Ticket.satisfaction.is_not(None))
                                .order_by(m.Ticket.id).limit(batch)).all()
        if not rows:
            return written
        chunk = [{"ticket_id": tid, "seq": seq + 1, "at": at + dt.timedelta(hours=1), "actor": "bench",
                  "role": "agent", "action": "callback", "from_state": "awaiting_callback", "to_state": state,
                  "data": {"result": satisfaction, "solved": bool(solved)}}
                 for tid, state, satisfaction, solved, at, seq in rows]
        last_id = rows[-1][0]
        with db.engine.begin() as conn:
            conn.execute(insert(E.__table__), chunk)
        written += len(chunk)


def run(url: str, repeat: int) -> None:
    client, auth = boss_client(url)
    today = dt.datetime.now(PROVINCE_TZ).date()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).isoformat()
    cases = [("/api/v1/revisits/figures, day", f"/api/v1/revisits/figures?period=day&date={last_month}"),
             ("/api/v1/revisits/figures, week", f"/api/v1/revisits/figures?period=week&date={last_month}"),
             ("/api/v1/revisits/figures, month", f"/api/v1/revisits/figures?period=month&date={last_month}"),
             ("/api/v1/reports/monthly json", f"/api/v1/reports/monthly?date={last_month}")]
    print(f"# {repeat} timed runs per request after 1 warm-up; last full month = {last_month[:7]}")
    for name, response in timed_gets(client, auth, cases, repeat, width=36):
        if name.endswith("month"):
            total = response.json()["total"]
            print(f"#   month: reached 待回访 {total['reached']:,}, verdicts {total['verdicts']:,}, "
                  f"units {len(response.json()['units'])}")


def main(args) -> None:
    with scratch_database(args.postgres, "revisits") as (url, path, backend, _pg):
        db = Database(url)
        print(f"# 回拨与回访 figures over {args.rows:,} tickets, {backend}; 2 shared cores")
        gen = generate(db, args.rows, args.batch, args.seed)
        t0 = time.perf_counter()
        events = add_events(db, args.batch, args.seed)
        verdicts = add_verdicts(db, args.batch)
        print(f"\n# {events:,} events and {verdicts:,} verdicts in {time.perf_counter() - t0:.1f} s")
        settle(db, False)
        db.dispose()
        db = Database(url)
        print(f"# tickets generated in {gen.seconds:.1f} s; {size_of(db, path)}")
        run(url, args.repeat)
        db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per INSERT batch")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per request")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    main(parser.parse_args())
