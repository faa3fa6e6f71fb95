"""Early warning (未诉先办) at province volume: the full scan and the per-ticket evaluation.

A fresh SQLite database with the real organisation tree (``load_reference_data``) gets DAYS days of PER_DAY
realistic tickets (``bench.desk_data``: Hainan places by population, topics by share) placed in their town or
district, plus one injected cluster: six wordings of "自来水发黄" in 琼海 嘉积镇 within the last 12 hours.
Prints the full scan's time (default rules, and with ``link_topic`` on every rule) and its alerts, whether
the injected cluster was found, and the time of evaluating one new ticket's areas (what runs after each
ticket commit, in the background thread), p50/p95 over SAMPLES tickets. Real Redis (alerts stored).
``--similarity`` sets every rule's cosine threshold (``suggest.similarity``) to see how the alerts move.

    .venv/bin/python -m bench.warnings [--per-day 8000] [--days 7] [--samples 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from agent_desk.db import models as m
from agent_desk.db.migrate import upgrade
from agent_desk.db.session import Database
from agent_desk.seed import load_reference_data
from agent_desk.supervision.warnings import DEFAULT_RULES, EarlyWarning
from agent_desk.tickets.service import matter_key
from bench.desk_data import Drafts
from bench.stats import pct
from tests.support.redis_server import RedisServer

YELLOW = [("自来水发黄", "金海岸小区自来水发黄，有铁锈味。"),
          ("水质发黄", "家里水龙头出来的自来水发黄浑浊，不敢饮用。"),
          ("水浑浊发黄", "今天早上开始自来水浑浊发黄。"), ("自来水发黄有沉淀", "烧开后自来水发黄有沉淀。"),
          ("小区自来水发黄", "自来水发黄已经两天了，请水务部门核查。"), ("自来水颜色发黄", "自来水颜色发黄像铁锈水。")]


def fill(db: Database, per_day: int, days: int, now: dt.datetime) -> tuple[int, list[str]]:
    drafts, rng = Drafts(seed=2026), random.Random(7)
    with db.session() as session:
        load_reference_data(session)
        places = {(sp, name): uid for uid, sp, name in session.execute(
            select(m.OrgUnit.id, m.OrgUnit.subplatform, m.OrgUnit.name)
            .where(m.OrgUnit.kind.in_(("town", "district"))))}
        jiaji = places[("469002", "嘉积镇")]
    rows, placed = [], 0
    total = per_day * days
    for i in range(total):
        d = drafts.draft()
        unit = next((uid for (sp, name), uid in places.items() if sp == d["subplatform"] and name in d["location"]),
                    None)
        placed += unit is not None
        at = now - dt.timedelta(seconds=rng.uniform(0, days * 86400))
        rows.append(_row(f"B{i:013d}", d, unit, at))
    yellow = []
    for i, (title, content) in enumerate(YELLOW):
        number = f"Y{i:013d}"
        yellow.append(number)
        rows.append(_row(number, {"title": title, "content": content, "topic": "03-water", "location": "嘉积镇",
                                  "citizen_phone": f"1390000{i:04d}", "appeal_type": "complaint", "channel": "phone"},
                         jiaji, now - dt.timedelta(hours=2 * i)))
    with db.session() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(m.Ticket), rows[start:start + 5000])
    return placed, yellow


def _row(number: str, d: dict, unit: int | None, at: dt.datetime) -> dict:
    return {"number": number, "channel": d["channel"], "citizen_phone": d["citizen_phone"], "title": d["title"],
            "content": d["content"], "appeal_type": d["appeal_type"], "topic": d["topic"],
            "location": d["location"], "location_unit_id": unit, "state": "accepted", "created_at": at,
            "updated_at": at, "matter_key": matter_key(d["citizen_phone"], d["topic"], d["location"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=8000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--similarity", type=float, default=None, help="every rule's cosine threshold instead")
    args = parser.parse_args()
    rules = DEFAULT_RULES if args.similarity is None else tuple(
        r.model_copy(update={"similarity": args.similarity}) for r in DEFAULT_RULES)
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer.start(Path(tmp) / "redis")
        url = f"sqlite:///{tmp}/warnings.db"
        upgrade(url)
        db = Database(url)
        try:
            began = time.perf_counter()
            placed, yellow = fill(db, args.per_day, args.days, now)
            print(f"tickets: {args.per_day * args.days} over {args.days} days ({placed} placed in a town/district) "
                  f"+ 6 injected; filled in {time.perf_counter() - began:.1f} s")
            client = __import__("redis").Redis.from_url(redis.authenticated_url, decode_responses=True)
            for label, variant in (("default rules", rules),
                                   ("link_topic on", tuple(r.model_copy(update={"link_topic": True}) for r in rules))):
                client.flushdb()
                detector = EarlyWarning(db.sessions, client, variant, clock=lambda: now)
                result = detector.scan()
                per_rule = {r.name: sum(a["rule"] == r.name for a in result.alerts) for r in variant}
                found = any(set(yellow) <= set(a["tickets"]) for a in result.alerts)
                print(f"full scan, {label}: {result.elapsed_ms:.0f} ms over {result.tickets} tickets; "
                      f"alerts {per_rule}; injected cluster found: {found}")
                for alert in result.alerts[:3]:
                    print("   ", alert["title"], alert["keywords"])
            detector = EarlyWarning(db.sessions, client, rules, clock=lambda: now)
            detector.scan()
            with db.session() as session:
                ids = session.scalars(select(m.Ticket.id).where(
                    m.Ticket.created_at >= now - dt.timedelta(hours=1),
                    m.Ticket.location_unit_id.is_not(None))).all()
            sample = random.Random(3).sample(ids, min(args.samples, len(ids)))
            times = [detector.evaluate_tickets({i}).elapsed_ms for i in sample]
            print(f"one new ticket's areas re-evaluated (3 rules): p50 {pct(times, 50):.1f} ms, "
                  f"p95 {pct(times, 95):.1f} ms, max {max(times):.1f} ms (n={len(times)})")
        finally:
            db.dispose()
            redis.stop()


if __name__ == "__main__":
    main()
