"""``python -m agent_desk.learning --models DIR``: one training in a process of its own, at a lower CPU priority,
as the desk's background retrainer runs it. The database URL comes in ``HOTLINE_LEARNING_DATABASE_URL`` (the
environment, not the command line: it may carry a password)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from agent_desk.learning.cli import train
from agent_desk.learning.retrain import DATABASE_URL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", required=True, help="the models folder (Paths.suggest_models)")
    parser.add_argument("--min-tickets", type=int)
    parser.add_argument("--nice", type=int, default=10, help="lower the CPU priority by this much (0-19)")
    args = parser.parse_args(argv)
    url = os.environ.get(DATABASE_URL)
    if not url:
        print(f"error: {DATABASE_URL} is not set", file=sys.stderr)
        return 2
    if args.nice:
        os.nice(args.nice)
    # stopped with the desk: unwind (temporary files removed, the lock released), the model in use stays
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return train(url, Path(args.models), argparse.Namespace(target=None, min_tickets=args.min_tickets))


if __name__ == "__main__":
    sys.exit(main())
