"""``hotline desk train`` and the background retrainer: train the topic and unit models from closed tickets,
keep every version, and put a new one in use only if it is not worse than the one in use.

Layout under ``Paths.suggest_models``::

    topic.model, unit.model        the models in use (what ``current_model`` reads)
    history/topic-v0001.model …    every version trained, its held-out accuracy in the file header
    versions.json                  the index of the versions: when, on how many tickets, how good, promoted or not

Promotion: the new model's trial (fitted on 80 % of the examples) is measured on the held-out 20 %. The model in
use is measured on those held-out tickets it was not trained on (closed after its ``closed_through``), and the
new one on the same tickets; the new one is promoted if its top-1 there is not lower. When fewer than
``MIN_COMPARED`` held-out tickets are new to the model in use, the two models' own held-out top-1 figures are
compared instead (different tickets; the header says which comparison was made). Every file is replaced
atomically; one training runs at a time (a lock file), the desk keeps reading the model in use meanwhile.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.db import models as m

from agent_desk.learning.examples import Examples, closed_ticket_examples
from agent_desk.learning.loader import TARGETS, Target, model_path
from suggest import load, save
from suggest.evaluation import top1_hits
from suggest.store import read_header
from hotline.vocab import TicketState
from suggest.training import MIN_PER_LABEL, TooFewExamples, train_held_out

log = logging.getLogger(__name__)

DEFAULT_MIN_TICKETS = 200   # fewer usable closed tickets than this: refuse, the desk keeps its rules
MIN_COMPARED = 30
INDEX = "versions.json"
LOCK = ".training.lock"


class TrainingBusy(RuntimeError):
    """Another training holds the lock."""


@dataclass
class Outcome:
    """What one training did for one target (``hotline desk train`` prints it, versions.json keeps it)."""

    target: str
    refused: str = ""           # why no model was trained (too few tickets …); "" when one was
    version: int | None = None
    file: str = ""
    n_examples: int = 0
    held_out: dict[str, float] = field(default_factory=dict)
    compared: dict[str, Any] = field(default_factory=dict)   # how the new model was measured against the old
    promoted: bool = False
    skipped: dict[str, int] = field(default_factory=dict)
    trained_at: str = ""
    closed_tickets: int = 0     # closed tickets in the database when this training read them


def _naive_utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def read_index(models_dir: Path) -> list[dict[str, Any]]:
    """The versions trained so far, oldest first ([] when none or unreadable)."""
    try:
        data = json.loads((models_dir / INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s); starting a new index", models_dir / INDEX, exc)
        return []
    return list(data.get("versions", [])) if isinstance(data, dict) else []


def _write_atomically(path: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(name).replace(path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _copy_atomically(source: Path, target: Path) -> None:
    _write_atomically(target, source.read_bytes())


@contextmanager
def training_lock(models_dir: Path) -> Iterator[None]:
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / LOCK).open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainingBusy(f"another training of the suggestion models is running ({models_dir})") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _without_rare_labels(examples: Examples) -> Examples:
    """Labels with fewer than MIN_PER_LABEL tickets are left out (the rules still cover them)."""
    counts = Counter(examples.labels)
    kept = Examples(skipped=dict(examples.skipped))
    for i, label in enumerate(examples.labels):
        if counts[label] >= MIN_PER_LABEL:
            kept.add(examples.ticket_ids[i], examples.texts[i], label, examples.contexts[i], examples.closed_at[i])
        else:
            kept.skip("label_too_rare")
    return kept


def _current(path: Path) -> tuple[Any, dict[str, Any]] | None:
    try:
        return load(path), read_header(path)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - ModelFileError or a damaged file: an unusable model is replaced
        log.warning("%s: the model in use cannot be read (%s); a new one replaces it", path, exc)
        return None


def _compare(current: tuple[Any, dict[str, Any]] | None, examples: Examples, held_index: Sequence[int],
             new_hits: Sequence[bool], new_top1: float) -> tuple[bool, dict[str, Any]]:
    if current is None:
        return True, {"against": "none"}
    model, head = current
    through = head.get("closed_through")
    fresh = list(range(len(held_index)))
    if through:
        limit = _naive_utc(dt.datetime.fromisoformat(through))
        fresh = [j for j, i in enumerate(held_index) if _naive_utc(examples.closed_at[i]) > limit]
    old_version = head.get("version")
    if len(fresh) >= MIN_COMPARED:
        index = [held_index[j] for j in fresh]
        old_hits = top1_hits(model, [examples.texts[i] for i in index], [examples.labels[i] for i in index],
                             [examples.contexts[i] for i in index])
        new = sum(new_hits[j] for j in fresh) / len(fresh)
        old = sum(old_hits) / len(fresh)
        return new >= old, {"against": old_version, "on": "same_held_out_tickets", "n": len(fresh),
                            "new_top1": round(new, 4), "current_top1": round(old, 4)}
    old = float(head.get("held_out", {}).get("top1", 0.0))
    return new_top1 >= old, {"against": old_version, "on": "own_held_out_figures", "n": len(fresh),
                             "new_top1": round(new_top1, 4), "current_top1": round(old, 4)}


def train_target(target: Target, examples: Examples, models_dir: Path, *, min_tickets: int = DEFAULT_MIN_TICKETS,
                 closed_tickets: int = 0, progress: Callable[[str], None] = lambda _: None,
                 now: dt.datetime | None = None) -> Outcome:
    """Train one target's model from ``examples``, keep it as a new version, promote it if not worse."""
    started = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    examples = _without_rare_labels(examples)
    outcome = Outcome(target, skipped=examples.skipped, trained_at=started, closed_tickets=closed_tickets,
                      n_examples=len(examples.texts))
    if len(examples.texts) < min_tickets:
        outcome.refused = (f"too few closed tickets to train the {target} model: {len(examples.texts)} usable, "
                           f"at least {min_tickets} are needed; suggestions stay with the model in use or the rules")
        return outcome
    progress(f"{target}: training on {len(examples.texts)} closed tickets, {len(set(examples.labels))} labels")
    try:
        model, held = train_held_out(examples.texts, examples.labels,
                                     lambda message: progress(f"{target}: {message}"), examples.contexts)
    except TooFewExamples as exc:
        outcome.refused = f"{target}: {exc}; suggestions stay with the model in use or the rules"
        return outcome
    outcome.held_out = dict(model.held_out)
    in_use = model_path(models_dir, target)
    outcome.promoted, outcome.compared = _compare(_current(in_use), examples, held.index, held.hits,
                                                  model.held_out["top1"])
    versions = read_index(models_dir)
    outcome.version = 1 + max((int(v.get("version", 0)) for v in versions if v.get("target") == target), default=0)
    history = models_dir / "history"
    history.mkdir(parents=True, exist_ok=True)
    path = history / f"{target}-v{outcome.version:04d}.model"
    outcome.file = str(path.relative_to(models_dir))
    through = examples.closed_through
    save(model, path, target=target, version=outcome.version, compared=outcome.compared,
         closed_through=_naive_utc(through).isoformat() if through else None, skipped=outcome.skipped)
    if outcome.promoted:
        _copy_atomically(path, in_use)
    versions.append(asdict(outcome))
    _write_atomically(models_dir / INDEX, json.dumps({"versions": versions}, ensure_ascii=False,
                                                     indent=1).encode("utf-8"))
    verdict = "promoted to " + in_use.name if outcome.promoted else "kept in history only (worse than the model in use)"
    progress(f"{target}: v{outcome.version:04d} held-out top1={outcome.held_out['top1']:.3f} "
             f"top3={outcome.held_out['top3']:.3f}; {verdict}")
    return outcome


def count_closed(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(m.Ticket)
                              .where(m.Ticket.state == TicketState.CLOSED.value)) or 0)


def train_desk(sessions: sessionmaker[Session], models_dir: Path, *, min_tickets: int = DEFAULT_MIN_TICKETS,
               targets: Sequence[Target] = TARGETS, progress: Callable[[str], None] = lambda _: None,
               now: dt.datetime | None = None) -> list[Outcome]:
    """Train every target from the closed tickets; raises TrainingBusy if another training runs."""
    with training_lock(models_dir):
        with sessions() as session:
            closed = count_closed(session)
            found = closed_ticket_examples(session, progress)
        return [train_target(target, found[target], models_dir, min_tickets=min_tickets, closed_tickets=closed,
                             progress=progress, now=now) for target in targets]
