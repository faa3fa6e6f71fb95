"""Login limits: atomic counters in the database that slow a password guesser without locking the user out.

Three counters, each a row of ``login_counters`` whose window starts at its first failure:

* ``pair:<user>|<source>`` – failures of one user name from one source address (``login_failures_per_user``,
  5). Someone guessing from elsewhere never locks the real user out of the user's own address.
* ``source:<address>`` – failures from one address, whatever the names (``login_failures_per_client``, 20).
* ``account:<user>`` – failures of one user name across all addresses (``login_failures_per_account``, 50,
  higher): a guesser with many addresses is slowed too. A source the user signed in from successfully in the
  last 30 days is exempt from it, so even a distributed attack does not keep the user out of the usual desk.

Why the database and not Redis INCR: the login already depends on the database, which holds these counters
under the same guarantees on SQLite and PostgreSQL; Redis holds only derived, live state here, and a Redis
outage must neither switch the limit off nor stop every login. Why atomic: each attempt *reserves* its place
with one ``INSERT … ON CONFLICT DO UPDATE SET count = count + 1 … RETURNING count`` committed before the password
is checked, so parallel attempts never read the same count (twelve parallel guesses: five are checked, seven get
429). A reservation over a limit is taken back; a success takes its reservation back and clears its pair.

A counter whose window has passed counts nothing (the next failure starts it again at 1), but its row stays until
:func:`sweep` deletes it: the desk sweeps every hour, so a guesser cycling through addresses or names leaves no
lasting rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from agent_desk.db.models import LoginAttempt, LoginCounter
from agent_desk.db.session import Database
from agent_desk.errors import DeskError
from agent_desk.settings import DeskSettings
from agent_desk.db.dialect import insert_for

log = logging.getLogger(__name__)

KNOWN_SOURCE_FOR = dt.timedelta(days=30)


@dataclass(frozen=True)
class Reservation:
    """The counters one login attempt holds a place in."""

    keys: tuple[str, ...]
    pair: str


def reserve(session: Session, settings: DeskSettings, username: str, client: str, now: dt.datetime) -> Reservation:
    """Count this attempt in every counter it belongs to, committed at once; DeskError 429 when one is full."""
    pair = f"pair:{username}|{client}"
    limits = {pair: settings.login_failures_per_user, f"source:{client}": settings.login_failures_per_client}
    if not _known_source(session, username, client, now):
        limits[f"account:{username}"] = settings.login_failures_per_account
    counts = {key: _bump(session, key, now, settings.login_window) for key in limits}
    full = [(key, start) for key, (count, start) in counts.items() if count > limits[key]]
    if full:
        _take_back(session, tuple(limits))  # a refused attempt checks no password: it does not count
        session.commit()
        wait = max(start + settings.login_window - now for _, start in full)
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise DeskError(429, "too_many_attempts", f"登录失败次数过多，请{math.ceil(seconds / 60)}分钟后再试",
                        headers={"Retry-After": str(seconds)})
    session.commit()  # visible to parallel attempts before this one's password is checked
    return Reservation(tuple(limits), pair)


def succeeded(session: Session, reservation: Reservation) -> None:
    """The password was right: the attempt was no failure, and its pair starts afresh."""
    _take_back(session, tuple(k for k in reservation.keys if k != reservation.pair))
    session.execute(delete(LoginCounter).where(LoginCounter.key == reservation.pair))


def sweep(session: Session, settings: DeskSettings, now: dt.datetime) -> int:
    """Delete the counters whose window has passed; how many. Such a row counts nothing: ``_bump`` would restart it."""
    result = session.execute(delete(LoginCounter).where(LoginCounter.window_start <= now - settings.login_window))
    return int(getattr(result, "rowcount", 0) or 0)


async def sweep_periodically(db: Database, settings: DeskSettings, every: float = 3600.0) -> None:
    """:func:`sweep` at start and every ``every`` seconds until cancelled; a database error waits for the next turn."""
    def once() -> int:
        with db.session() as session:
            return sweep(session, settings, dt.datetime.now(dt.UTC))

    while True:
        try:
            swept = await asyncio.to_thread(once)
            if swept:
                log.info("login limits: %d expired counters deleted", swept)
        except SQLAlchemyError as exc:
            log.warning("login limits: expired counters not deleted this time: %s", exc)
        await asyncio.sleep(every)


def _bump(session: Session, key: str, now: dt.datetime, window: dt.timedelta) -> tuple[int, dt.datetime]:
    """One statement: a new window at 1, or the current one plus 1; the count and its window's start."""
    upsert = insert_for(session)
    expired = LoginCounter.window_start <= now - window
    stmt = upsert(LoginCounter).values(key=key, window_start=now, count=1)
    stmt = stmt.on_conflict_do_update(index_elements=[LoginCounter.key], set_={
        "count": case((expired, 1), else_=LoginCounter.count + 1),
        "window_start": case((expired, now), else_=LoginCounter.window_start),
    }).returning(LoginCounter.count, LoginCounter.window_start)
    count, start = session.execute(stmt).one()
    return count, start


def _take_back(session: Session, keys: tuple[str, ...]) -> None:
    if keys:
        session.execute(update(LoginCounter).where(LoginCounter.key.in_(keys), LoginCounter.count > 0)
                        .values(count=LoginCounter.count - 1))


def _known_source(session: Session, username: str, client: str, now: dt.datetime) -> bool:
    return session.scalar(select(LoginAttempt.id).where(
        LoginAttempt.username == username, LoginAttempt.client == client, LoginAttempt.success.is_(True),
        LoginAttempt.at >= now - KNOWN_SOURCE_FOR).limit(1)) is not None
