"""Search latency of the desk over a million generated tickets (agent_desk.tickets.service.search).

Generates ROWS tickets (default 1,000,000) straight into the migrated ``tickets`` table with SQLAlchemy Core
bulk inserts, with a year of realistic distributions: creation times over the last 365 days (weekdays and
office hours busier), the 20 sub-platforms weighted by population, the 16 topics of hotline/data/topics.yaml,
states by age (old tickets closed, recent ones with the units, a few long-overdue stragglers), 100 host
units (5 per sub-platform) and co-units on 4 % of dispatched tickets, repeat callers (a third of the
tickets come from 30,000 numbers with a long-tailed frequency), and Chinese titles and contents built
from templates (bench.desk_data). Then times, with a supervisor and with a unit principal, the searches
the desk runs (one unit of work per search, as the API does), each repeated with varied values:
p50 / p99 / max, rows returned, and the ratio to the exact-number lookup (the cheapest search) of the
same run. The database lives in a temp dir, removed at the end unless --keep.

    .venv/bin/python -m bench.ticket_search [--rows 1000000] [--postgres] [--repeat 25] [--explain] [--keep]

SQLite runs as the desk configures it (no ANALYZE: the desk never runs it; --analyze runs it after
the load to show what statistics change). PostgreSQL gets VACUUM ANALYZE after the load, as autovacuum
would do shortly after a bulk load in production.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event, insert, text

from agent_desk.auth.passwords import hash_password
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db import models as m
from agent_desk.db.migrate import upgrade
from agent_desk.db.session import Database
from agent_desk.settings import PROVINCE_TZ
from agent_desk.tickets import service
from bench.desk_data import ABSENT, Drafts, cities
from bench.stats import pct

UTC = dt.UTC
# 5 member units per sub-platform (100 host units); topics without their own unit go to one of them.
UNIT_KINDS = (("water", "水务局", "03-water"), ("housing", "住房和城乡建设局", "03-housing"),
              ("enforce", "综合行政执法局", "03-sanitation"), ("env", "生态环境局", "04-environment"),
              ("market", "市场监督管理局", "10-market"))
# State of a dispatched ticket by age in days: (max age, [(state, weight), ...]).
BY_AGE = (
    (1, (("accepted", 40), ("dispatched", 40), ("signed", 20))),
    (7, (("dispatched", 10), ("signed", 45), ("replied", 10), ("awaiting_callback", 15), ("closed", 14),
         ("return_requested", 2), ("consultation", 2), ("returned", 1), ("unsatisfied", 1))),
    (30, (("dispatched", 1), ("signed", 8), ("replied", 4), ("awaiting_callback", 10), ("closed", 70),
          ("unsatisfied", 3), ("appealed", 1), ("consultation", 1), ("return_requested", 1), ("returned", 1))),
    (10_000, (("signed", 1), ("replied", 0.3), ("awaiting_callback", 1), ("closed", 95.5), ("unsatisfied", 1),
              ("appealed", 0.5), ("consultation", 0.4), ("returned", 0.3))),
)
SATISFACTION = (("satisfied", 80), ("basically_satisfied", 14), ("unsatisfied", 6))
COMMON_WORDS = ("物业", "噪音", "停水", "工资", "垃圾", "出租车", "学位", "退款", "停电", "社保")


@dataclass
class Generated:
    rows: int
    seconds: float
    max_id: int
    units: list[tuple[int, str, str]]                      # (id, code, subplatform)
    numbers: list[str] = field(default_factory=list)      # samples for the searches
    phones: list[str] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    days: list[dt.date] = field(default_factory=list)
    frequent: list[str] = field(default_factory=list)
    supervisor: Principal | None = None
    unit_users: dict[int, Principal] = field(default_factory=dict)


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


def reference_data(db: Database) -> tuple[list[tuple[int, str, str]], dict[str, list[int]], Generated]:
    """Province, 20 sub-platforms, 100 member units; a supervisor, 60 agents and one user per unit."""
    password_hash = hash_password("bench-horse-12345")
    gen = Generated(0, 0.0, 0, [])
    with db.session() as s:
        province = m.OrgUnit(code="prov", name="海南省12345热线平台", kind="province", level="province")
        s.add(province)
        s.flush()
        units: list[m.OrgUnit] = []
        for city in cities():
            sub = m.OrgUnit(code=city.code, name=f"{city.name}12345分平台", kind="subplatform", level="city",
                            parent_id=province.id, subplatform=city.code)
            s.add(sub)
            s.flush()
            for short, name, _topic in UNIT_KINDS:
                units.append(m.OrgUnit(code=f"{city.code}-{short}", name=f"{city.name}{name}", kind="member_unit",
                                       level="city", parent_id=sub.id, subplatform=city.code))
        s.add_all(units)
        s.flush()
        users = [m.User(username="boss", display_name="值班长", password_hash=password_hash, role="supervisor")]
        users += [m.User(username=f"agent{i:02d}", display_name=f"话务员{i:02d}", password_hash=password_hash,
                         role="agent", extension=f"8{i:03d}") for i in range(60)]
        users += [m.User(username=f"unit-{u.code}", display_name=u.name, password_hash=password_hash, role="unit",
                         org_unit_id=u.id) for u in units]
        s.add_all(users)
        s.flush()
        gen.supervisor = Principal(users[0].id, "boss", "值班长", Role.SUPERVISOR, None, None, None)
        for user, unit in zip(users[61:], units):
            gen.unit_users[unit.id] = Principal(user.id, user.username, user.display_name, Role.UNIT, unit.id,
                                                unit.code, None)
        by_sub: dict[str, list[int]] = {}
        for u in units:
            by_sub.setdefault(u.subplatform, []).append(u.id)
        agents = [u.id for u in users[1:61]]
        gen.units = [(u.id, u.code, u.subplatform) for u in units]
        gen.agents = agents  # type: ignore[attr-defined]
    return gen.units, by_sub, gen


def generate(db: Database, rows: int, batch: int, seed: int) -> Generated:
    upgrade(db.url)
    started = time.perf_counter()
    units, by_sub, gen = reference_data(db)
    unit_code = {uid: code for uid, code, _ in units}
    kind_of_topic = {topic: i for i, (_s, _n, topic) in enumerate(UNIT_KINDS)}
    rng = random.Random(seed)
    drafts = Drafts(seed)
    now = dt.datetime.now(UTC)
    start = now - dt.timedelta(days=365)

    # creation times, sorted (ids grow with time, as in production)
    day_weights = [0.6 if (start + dt.timedelta(days=d)).astimezone(PROVINCE_TZ).weekday() >= 5 else 1.0
                   for d in range(365)]
    hour_weights = [1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 3, 7, 10, 10, 9, 6, 7, 9, 10, 9, 8, 6, 5, 4, 3, 2, 1.5]
    day_picks = rng.choices(range(365), day_weights, k=rows)
    hour_picks = rng.choices(range(24), hour_weights, k=rows)
    local_start = start.astimezone(PROVINCE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    offsets = sorted(d * 86400 + h * 3600 + rng.random() * 3600 for d, h in zip(day_picks, hour_picks))
    base = local_start.timestamp()
    offsets = [o for o in offsets if base + o < now.timestamp()] or [0.0]
    while len(offsets) < rows:  # the last day's future hours: pull them into the past
        offsets.append(now.timestamp() - base - rng.random() * 3600)
    offsets.sort()

    frequent = [drafts.phone() for _ in range(30_000)]
    freq_weights = [1 / (i + 1) ** 0.7 for i in range(len(frequent))]
    phone_picks = iter(rng.choices(frequent, freq_weights, k=rows))
    gen.frequent = frequent[:200]
    counters: dict[str, int] = {}
    sample_every = max(1, rows // 2000)
    ticket_table, co_table = m.Ticket.__table__, m.TicketCoUnit.__table__
    done = 0

    if db.dialect == "sqlite":  # the loader's own connection: a big page cache for the index updates
        event.listen(db.engine, "connect", lambda conn, _r: conn.execute("PRAGMA cache_size=-1000000"))
    while done < rows:
        chunk, co_rows = [], []
        for i in range(done, min(rows, done + batch)):
            tid = i + 1
            created = dt.datetime.fromtimestamp(base + offsets[i], UTC)
            local = created.astimezone(PROVINCE_TZ)
            day = local.strftime("%Y%m%d")
            counters[day] = counters.get(day, 0) + 1
            number = f"{day}{counters[day]:06d}"
            phone = next(phone_picks) if rng.random() < 0.35 else drafts.phone()
            d = drafts.draft(phone=phone)
            d["channel"] = weighted(rng, (("phone", 78), ("wechat", 8), ("web", 6), ("app", 5), ("sms", 2),
                                          ("email", 1)))
            if d["channel"] != "phone":
                d["source_line"] = None
            age = (now - created).total_seconds() / 86400
            row = dict(d, id=tid, number=number, call_id=None, location_unit_id=None,
                       matter_key=service.matter_key(phone, d["topic"], d["location"]), host_unit_id=None,
                       settled_unit_id=None, due_at=None, dispatched_at=None, closed_at=None, closed_on_time=None,
                       satisfaction=None, solved=None, excluded=None, exclusion_basis="", refusal=None,
                       direct_resolution=False, final_opinion="", linked_to_id=None, level="town",
                       supervisions=0, returns=0, state_before_return=None, created_by_id=rng.choice(gen.agents),
                       created_at=created, updated_at=created, version=1)
            fate = rng.random()
            if fate < 0.03:                                   # 不予受理
                row.update(state="refused", refusal="other_channel", closed_at=created + dt.timedelta(minutes=5))
            elif fate < 0.28:                                 # 直接办结 by the agent
                done_at = created + dt.timedelta(minutes=rng.randint(3, 30))
                if age < 2:
                    row.update(state="awaiting_callback", direct_resolution=True, updated_at=done_at)
                else:
                    sat = weighted(rng, SATISFACTION)
                    row.update(state="closed", direct_resolution=True, closed_at=done_at + dt.timedelta(days=1),
                               satisfaction=sat, solved=sat != "unsatisfied", updated_at=done_at)
            else:                                             # dispatched to a unit
                state = weighted(rng, next(p for limit, p in BY_AGE if age < limit))
                if state != "accepted":
                    topic_kind = kind_of_topic.get(d["topic"], rng.randrange(len(UNIT_KINDS)))
                    host = by_sub[d["subplatform"]][topic_kind]
                    dispatched = created + dt.timedelta(hours=rng.uniform(0.2, min(24, age * 24)))
                    due = dispatched + dt.timedelta(days=3 if d["urgency"] != "normal" else 7)
                    row.update(host_unit_id=host, dispatched_at=dispatched, due_at=due, updated_at=dispatched,
                               level="county" if rng.random() < 0.2 else "town")
                    if rng.random() < 0.04:
                        others = [u for u in by_sub[d["subplatform"]] if u != host]
                        co_rows.append({"ticket_id": tid, "unit_id": rng.choice(others)})
                    if state == "closed":
                        closed = dispatched + dt.timedelta(days=rng.uniform(0.5, min(12, max(0.6, age - 0.2))))
                        sat = weighted(rng, SATISFACTION)
                        row.update(closed_at=closed, closed_on_time=closed <= due, satisfaction=sat,
                                   solved=sat != "unsatisfied", updated_at=closed,
                                   final_opinion="已作出最终处理意见，不再重复交办。" if rng.random() < 0.002 else "")
                    if state in ("returned", "return_requested"):
                        row["returns"] = 1
                row["state"] = state
            chunk.append(row)
            if i % sample_every == 0:
                gen.numbers.append(number)
                gen.phones.append(phone)
                gen.days.append(local.date())
                if "单元" in d["content"]:
                    gen.rooms.append(d["content"].split("，")[1].split("一带")[0][-10:].lstrip("号路区镇小"))
        with db.engine.begin() as conn:
            conn.execute(insert(ticket_table), chunk)
            if co_rows:
                conn.execute(insert(co_table), co_rows)
        done += len(chunk)
        elapsed = time.perf_counter() - started
        print(f"\r# generating: {done:>9,}/{rows:,} rows, {elapsed:6.1f} s, {done / elapsed:8,.0f} rows/s",
              end="", flush=True)
    print(flush=True)
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), :n)"), {"n": rows})
            for day, last in counters.items():
                conn.execute(insert(m.TicketCounter).values(day=day, last=last))
        else:
            conn.execute(insert(m.TicketCounter), [{"day": k, "last": v} for k, v in counters.items()])
    gen.rows, gen.max_id, gen.seconds = rows, rows, time.perf_counter() - started
    gen.unit_code = unit_code  # type: ignore[attr-defined]
    return gen


def settle(db: Database, analyze: bool) -> None:
    """After the load: checkpoint the WAL (SQLite) / VACUUM ANALYZE (PostgreSQL, what autovacuum would do)."""
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as conn:
            if analyze:
                conn.execute(text("ANALYZE"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def size_of(db: Database, path: Path | None) -> str:
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            total = conn.scalar(text("SELECT pg_database_size(current_database())"))
            table = conn.scalar(text("SELECT pg_table_size('tickets')"))
            indexes = conn.scalar(text("SELECT pg_indexes_size('tickets')"))
        return (f"database {total / 2**20:,.0f} MiB (tickets: table {table / 2**20:,.0f} MiB + "
                f"indexes {indexes / 2**20:,.0f} MiB)")
    files = [p for p in path.parent.glob(path.name + "*")]
    total = sum(p.stat().st_size for p in files)
    with db.engine.connect() as conn:
        try:
            table = conn.scalar(text("SELECT SUM(pgsize) FROM dbstat WHERE name = 'tickets'"))
            indexes = conn.scalar(text("SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM "
                                       "sqlite_master WHERE type = 'index' AND tbl_name = 'tickets')"))
            detail = f" (tickets: table {table / 2**20:,.0f} MiB + indexes {indexes / 2**20:,.0f} MiB)"
        except Exception:  # dbstat is not compiled into every SQLite
            detail = ""
    return f"file {total / 2**20:,.0f} MiB{detail}"


@dataclass
class Scenario:
    role: str                       # supervisor | unit
    name: str
    params: object                  # callable(rng, gen) → (query dict, unit id or None)


def scenarios(gen: Generated) -> list[Scenario]:
    subs = [c.code for c in cities()]
    open_states = ("dispatched", "signed", "replied", "awaiting_callback", "consultation", "unsatisfied", "appealed")

    def week(rng) -> dict:
        day = rng.choice(gen.days)
        return {"created_from": day, "created_to": day + dt.timedelta(days=6)}

    def unit(rng) -> int:
        return rng.choice(gen.units)[0]

    sv = [
        ("exact number", lambda r: {"number": r.choice(gen.numbers)}),
        ("number prefix (one day)", lambda r: {"number": r.choice(gen.numbers)[:8]}),
        ("phone", lambda r: {"phone": r.choice(gen.frequent if r.random() < 0.5 else gen.phones)}),
        ("newest first (no filter)", lambda r: {}),
        ("state + sub-platform",
         lambda r: {"state": r.choice(open_states + ("closed",)), "subplatform": r.choice(subs)}),
        ("host unit (unit's inbox)", lambda r: {"host_unit": gen.unit_code[unit(r)]}),
        ("overdue", lambda r: {"overdue": True}),
        ("overdue + sub-platform", lambda r: {"overdue": True, "subplatform": r.choice(subs)}),
        ("date range (7 days)", week),
        ("text q, common word", lambda r: {"q": r.choice(COMMON_WORDS)}),
        ("text q, rare (a flat)", lambda r: {"q": r.choice(gen.rooms)}),
        ("text q, absent word", lambda r: {"q": r.choice(ABSENT)}),
        ("text q + sub-platform", lambda r: {"q": r.choice(COMMON_WORDS), "subplatform": r.choice(subs)}),
        ("page via before_id", lambda r: {"before_id": r.randint(1, gen.max_id)}),
        ("page via before_id + state", lambda r: {"before_id": r.randint(1, gen.max_id),
                                                  "state": r.choice(open_states)}),
    ]
    un = [
        ("inbox (no filter)", lambda r: {}),
        ("inbox, to sign (dispatched)", lambda r: {"state": "dispatched"}),
        ("overdue", lambda r: {"overdue": True}),
        ("date range (7 days)", week),
        ("text q, common word", lambda r: {"q": r.choice(COMMON_WORDS)}),
        ("text q, absent word", lambda r: {"q": r.choice(ABSENT)}),
        ("page via before_id", lambda r: {"before_id": r.randint(1, gen.max_id)}),
    ]
    return [Scenario("supervisor", n, f) for n, f in sv] + [Scenario("unit", n, f) for n, f in un]


class Capture:
    """The SELECT … FROM tickets a search sends (for --explain)."""

    def __init__(self, engine):
        self.engine, self.on, self.seen = engine, False, None
        event.listen(engine, "before_cursor_execute", self._hook)

    def _hook(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and self.seen is None and "FROM tickets" in statement:
            self.seen = (statement, parameters)


def explain(db: Database, captured) -> list[str]:
    statement, parameters = captured
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.dialect == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return [f"{row[-1]}" for row in cur.fetchall()]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY OFF) " + statement, parameters)
        return [row[0] for row in cur.fetchall()]
    finally:
        raw.close()


def run(db: Database, gen: Generated, repeat: int, budget: float, show_plan: bool, seed: int) -> None:
    rng = random.Random(seed)
    capture = Capture(db.engine) if show_plan else None
    results = []
    for sc in scenarios(gen):
        times: list[float] = []
        counts: list[int] = []
        plan: list[str] = []
        spent = 0.0
        for i in range(repeat + 1):   # the first run is a warm-up, not counted
            params = sc.params(rng)
            who = gen.supervisor if sc.role == "supervisor" else gen.unit_users[rng.choice(gen.units)[0]]
            query = service.SearchQuery(**params)
            if capture is not None and i == 1:
                capture.on, capture.seen = True, None
            t0 = time.perf_counter()
            with db.session() as session:
                page = service.search(session, who, query)
            elapsed = time.perf_counter() - t0
            if capture is not None and capture.on:
                capture.on = False
                plan = explain(db, capture.seen) if capture.seen else ["(no tickets query captured)"]
            if i == 0:
                continue
            times.append(elapsed)
            counts.append(len(page["items"]))
            spent += elapsed
            if spent > budget and len(times) >= 3:
                break
        results.append((sc, times, counts, plan))
        print(f"#   {sc.role:<10} {sc.name:<28} runs {len(times):>3}  p50 {pct(times, 50) * 1000:9.1f} ms",
              file=sys.stderr, flush=True)
    base = pct(next(t for sc, t, _c, _p in results if sc.name == "exact number"), 50)
    print(f"{'principal':<10} | {'search':<28} | {'runs':>4} | {'p50 ms':>8} | {'p99 ms':>8} | {'max ms':>8} | "
          f"{'rows':>5} | {'× number':>8}")
    for sc, times, counts, plan in results:
        p50 = pct(times, 50)
        print(f"{sc.role:<10} | {sc.name:<28} | {len(times):>4} | {p50 * 1000:8.1f} | {pct(times, 99) * 1000:8.1f} | "
              f"{max(times) * 1000:8.1f} | {statistics.fmean(counts):5.1f} | {p50 / base:8.1f}")
        for line in plan:
            print(f"{'':<10} |   plan: {line}")


@contextlib.contextmanager
def scratch_database(postgres: bool, name: str, keep: bool = False):
    """A throwaway desk database for a benchmark: (url, SQLite path or None, backend description, server or None).
    SQLite in a temporary directory, or a database on a throwaway PostgreSQL started as in the tests."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    pg = None
    try:
        if postgres:
            from tests.support.postgres_server import PostgresServer
            pg = PostgresServer.start()
            yield pg.create_database(f"bench_{name}"), None, \
                "PostgreSQL 15 (fsync off, shared_buffers 32MB, as in the tests)", pg
        else:
            path = home / "desk.db"
            yield f"sqlite:///{path}", path, "SQLite (WAL, as the desk configures it)", None
    finally:
        if pg is not None:
            pg.stop()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def main(args) -> None:
    with scratch_database(args.postgres, "search", keep=args.keep) as (url, path, backend, pg):
        db = Database(url)
        print(f"# ticket search over {args.rows:,} generated tickets, {backend}; 2 shared cores")
        gen = generate(db, args.rows, args.batch, args.seed)
        t0 = time.perf_counter()
        settle(db, args.analyze)
        db.dispose()
        db = Database(url)  # fresh connections, as the desk has them (no loader pragmas)
        print(f"# generated {gen.rows:,} tickets in {gen.seconds:.1f} s ({gen.rows / gen.seconds:,.0f} rows/s); "
              f"{'VACUUM ANALYZE' if pg else ('ANALYZE + ' if args.analyze else '') + 'WAL checkpoint'} "
              f"{time.perf_counter() - t0:.1f} s; {size_of(db, path)}")
        print(f"# each search: one unit of work, service.search (page of 20, newest first); "
              f"{args.repeat} runs with varied values (at most {args.budget:.0f} s per search), after 1 warm-up")
        run(db, gen, args.repeat, args.budget, args.explain, args.seed)
        db.dispose()
        if args.keep:
            print(f"# kept: {url if pg is None else '(PostgreSQL is removed with its cluster)'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per INSERT batch")
    parser.add_argument("--repeat", type=int, default=25, help="timed runs per search")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds at most per search (≥ 3 runs)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL 15 instead of SQLite")
    parser.add_argument("--analyze", action="store_true", help="SQLite: run ANALYZE after the load")
    parser.add_argument("--explain", action="store_true", help="print the query plan of each search")
    parser.add_argument("--keep", action="store_true", help="keep the generated SQLite database")
    main(parser.parse_args())
