"""``hotline desk train``: train the suggestion models from the site's closed tickets, progress on stderr, one
result line per model on stdout (``topic v0003 top1=0.912 top3=0.987 n=812 promoted``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from agent_desk.learning.loader import TARGETS
from agent_desk.learning.training import DEFAULT_MIN_TICKETS, TrainingBusy, train_desk


def _progress(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def train(database_url: str, models_dir: Path, args: argparse.Namespace) -> int:
    """0 when at least one model was trained (promoted or not); 2 when every one was refused; 1 when busy.
    ``args``: ``target`` (None: both) and ``min_tickets`` (None: the default)."""
    from agent_desk.db.migrate import upgrade
    from agent_desk.db.session import Database

    url = database_url
    upgrade(url)
    db = Database(url)
    started = time.perf_counter()
    try:
        outcomes = train_desk(db.sessions, Path(models_dir), targets=tuple(args.target or TARGETS),
                              min_tickets=args.min_tickets or DEFAULT_MIN_TICKETS, progress=_progress)
    except TrainingBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    for outcome in outcomes:
        if outcome.refused:
            print(f"error: {outcome.refused}", file=sys.stderr)
            continue
        held = outcome.held_out
        print(f"{outcome.target} v{outcome.version:04d} top1={held['top1']:.3f} top3={held['top3']:.3f} "
              f"n={outcome.n_examples} {'promoted' if outcome.promoted else 'not promoted'}", flush=True)
    _progress(f"done in {time.perf_counter() - started:.1f} s; models in {models_dir}")
    return 0 if any(not o.refused for o in outcomes) else 2
