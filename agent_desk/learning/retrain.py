"""Background retraining for the desk: after ``every_closed`` new closed tickets since the last training, or once a
day after ``nightly_hour`` (local time). A thread of the desk decides; the training itself runs in a child process
at a lower CPU priority (``python -m agent_desk.learning``), so no request waits for it nor shares its interpreter
lock with it, and a crash or runaway memory there cannot take the desk down.

The decision is a pure function (:func:`due`) of the clock, the number of closed tickets now and the last
training's record (versions.json). A failed or refused training logs a warning and leaves the model in use
alone; the next attempt waits for the next trigger (more closed tickets, or the next night), not the next check.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from typing import TYPE_CHECKING

from agent_desk.learning.training import DEFAULT_MIN_TICKETS, count_closed, read_index

if TYPE_CHECKING:
    from agent_desk.settings import DeskSettings

DATABASE_URL = "HOTLINE_LEARNING_DATABASE_URL"   # agent_desk.learning.__main__ reads it

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    every_closed: int = 500                 # retrain after this many new closed tickets; 0: never for that reason
    nightly_hour: int | None = 3            # retrain once a day after this local hour; None: no schedule
    check_every: dt.timedelta = dt.timedelta(minutes=10)
    min_tickets: int = DEFAULT_MIN_TICKETS
    timezone: str = "Asia/Shanghai"
    timeout: dt.timedelta = dt.timedelta(hours=2)   # a training still running then is stopped


@dataclass(frozen=True)
class LastTraining:
    at: dt.datetime        # aware
    closed_tickets: int    # closed tickets in the database then


def due(now: dt.datetime, closed_now: int, last: LastTraining | None, policy: Policy) -> str | None:
    """Why to train now ("first", "closed", "nightly"), or None. ``now`` is aware."""
    if closed_now < policy.min_tickets:
        return None     # it would be refused: not worth reading every ticket for
    if last is None:
        return "first"
    if policy.every_closed > 0 and closed_now - last.closed_tickets >= policy.every_closed:
        return "closed"
    if policy.nightly_hour is not None and closed_now != last.closed_tickets:
        zone = ZoneInfo(policy.timezone)
        local = now.astimezone(zone)
        tonight = local.replace(hour=policy.nightly_hour, minute=0, second=0, microsecond=0)
        if local < tonight:
            tonight -= dt.timedelta(days=1)
        if last.at.astimezone(zone) < tonight <= local:
            return "nightly"
    return None


def last_training(models_dir: Path) -> LastTraining | None:
    """The latest attempt in versions.json (promoted or not)."""
    versions = read_index(models_dir)
    if not versions:
        return None
    latest = versions[-1]
    try:
        return LastTraining(dt.datetime.fromisoformat(latest["trained_at"]), int(latest.get("closed_tickets", 0)))
    except (KeyError, TypeError, ValueError):
        return None


class Retrainer:
    """One daemon thread: every ``policy.check_every`` it counts closed tickets and trains when :func:`due`."""

    def __init__(self, sessions: sessionmaker[Session], models_dir: Path, policy: Policy,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.sessions = sessions
        self.models_dir = models_dir
        self.policy = policy
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_attempt: LastTraining | None = None   # refused or failed attempts are not in versions.json
        self._child: subprocess.Popen[str] | None = None
        self.trainings = 0   # completed trainings (tests)
        self.command = [sys.executable, "-m", "agent_desk.learning", "--models", str(models_dir),
                        "--min-tickets", str(policy.min_tickets)]

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="suggest-retrain", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop checking; a training under way is stopped too (the model in use stays: nothing half-written)."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
        if self._thread is not None:
            self._thread.join(timeout)

    def _train(self) -> subprocess.CompletedProcess[str]:
        bind = self.sessions.kw["bind"]
        env = {**os.environ, DATABASE_URL: bind.url.render_as_string(hide_password=False)}
        with subprocess.Popen(self.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as child:
            self._child = child
            try:
                out, err = child.communicate(timeout=self.policy.timeout.total_seconds())
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                raise
            finally:
                self._child = None
        return subprocess.CompletedProcess(self.command, child.returncode, out, err)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.policy.check_every.total_seconds())

    def check(self) -> str | None:
        """Train if due; the reason it trained, or None. Never raises."""
        try:
            now = self.clock()
            with self.sessions() as session:
                closed = count_closed(session)
            recorded = last_training(self.models_dir)
            last = max((a for a in (recorded, self._last_attempt) if a is not None), key=lambda a: a.at,
                       default=None)
            reason = due(now, closed, last, self.policy)
            if reason is None:
                return None
            self._last_attempt = LastTraining(now, closed)
            log.info("suggestion models: retraining (%s; %d closed tickets)", reason, closed)
            done = self._train()
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            if done.returncode == 0:
                log.info("suggestion models: trained: %s", " | ".join(done.stdout.strip().splitlines()))
                self.trainings += 1
                return reason
            if self._stop.is_set():
                log.info("suggestion models: retraining stopped with the desk")
            elif done.returncode == 2:
                log.warning("suggestion models: not retrained: %s", tail)
            else:
                log.warning("suggestion models: retraining failed (exit %s): %s; the model in use stays",
                            done.returncode, tail)
        except subprocess.TimeoutExpired:
            log.warning("suggestion models: retraining took longer than %s and was stopped; the model in use stays",
                        self.policy.timeout)
        except Exception:  # noqa: BLE001 - the desk goes on with the model in use
            log.warning("suggestion models: retraining failed; the model in use stays", exc_info=True)
        return None


def retrainer_for(settings: DeskSettings, sessions: sessionmaker[Session]) -> Retrainer | None:
    """The desk's retrainer, or None when the settings name no models folder."""
    if not settings.suggest_models:
        return None
    return Retrainer(sessions, Path(settings.suggest_models),
                     Policy(every_closed=settings.retrain_after_closed, nightly_hour=settings.retrain_nightly_hour))
