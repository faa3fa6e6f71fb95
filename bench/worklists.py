"""The supervisor's work queues (agent_desk.supervision.worklists) over generated tickets: time to count every queue
and list its oldest items, the way GET /api/v1/worklists does (one unit of work per read).

Tickets come from bench.ticket_search.generate (a year of realistic distributions, states by age, 20 % of the
dispatched ones at county level); they have no history rows, so "waiting since" falls back to 受理时间 (the
correlated subquery still runs for every candidate). Prints the counts and p50 / max over the repeats.

    .venv/bin/python -m bench.worklists [--rows 200000] [--postgres] [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import true

from agent_desk.db.session import Database
from agent_desk.supervision import worklists
from bench.ticket_search import generate, scratch_database, settle


def main(args: argparse.Namespace) -> None:
    with scratch_database(args.postgres, "worklists") as (url, _path, backend, _pg):
        db = Database(url)
        try:
            gen = generate(db, args.rows, 5000, args.seed)
            settle(db, analyze=False)
            print(f"# work queues over {gen.rows:,} generated tickets, {backend}; 2 shared cores (a loaded box)")
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                with db.session() as session:
                    found = worklists.work_queues(session, true(), [], limit=5)
                times.append((time.perf_counter() - started) * 1000)
            print("counts: " + ", ".join(f"{q['key']} {q['count']:,}" for q in found["queues"]))
            print(f"read all queues: p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
                  f"({args.repeat} reads)")
        finally:
            db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=12345)
    main(parser.parse_args())
