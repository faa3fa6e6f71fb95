"""Retention (site.yaml ``retention``): files holding personal data older than their limit are deleted.

``sweep`` removes files under a directory whose modification time is older than the limit (empty
sub-directories it leaves go too); ``run_periodically`` repeats a set of sweeps, e.g. every hour, in the
background of the FastAGI server (IVR recordings, spools) and of the desk (call recordings).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from collections.abc import Iterable

log = logging.getLogger(__name__)

DAY = 86400.0


def sweep(directory: Path, days: int, now: float | None = None) -> int:
    """Delete the files under ``directory`` last modified more than ``days`` days ago; returns how many."""
    if not directory.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - days * DAY
    removed = 0
    for path in sorted(directory.rglob("*"), reverse=True):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
            elif path.is_dir() and path != directory and not any(path.iterdir()):
                path.rmdir()
        except OSError as exc:   # another process took it meanwhile, or it is not ours to delete
            log.warning("retention: %s not removed: %s", path, exc)
    return removed


def sweep_all(rules: Iterable[tuple[Path, int]]) -> int:
    return sum(sweep(directory, days) for directory, days in rules)


async def run_periodically(rules: list[tuple[Path, int]], every: float = 3600.0) -> None:
    """Sweep ``rules`` (directory, days) now and then every ``every`` seconds, until cancelled."""
    while True:
        try:
            removed = await asyncio.to_thread(sweep_all, rules)
            if removed:
                log.info("retention: removed %d expired files", removed)
        except Exception:
            log.exception("retention sweep failed")
        await asyncio.sleep(every)
