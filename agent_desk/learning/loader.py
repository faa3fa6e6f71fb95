"""The models the desk reads: ``topic.model`` and ``unit.model`` under ``Paths.suggest_models``.

``current_model(paths, "topic")`` answers the model in use, or None when there is none the desk can use (missing,
corrupt, written by another format or scikit-learn): the desk then falls back to its rules (keywords, 派单目录).
Each problem is logged once, as a warning, until the file changes; a file replaced by training is read again on
the next call (its size, modification time and inode are checked on every call: a ``stat``, no read).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hotline.paths import Paths
from suggest import Model, ModelFileError, load

log = logging.getLogger(__name__)

Target = Literal["topic", "unit"]
TARGETS: tuple[Target, ...] = ("topic", "unit")


def model_path(paths: Paths | Path, target: Target) -> Path:
    """Where the desk reads the model in use for ``target``."""
    if target not in TARGETS:
        raise ValueError(f"unknown suggestion target {target!r} (one of {', '.join(TARGETS)})")
    folder = paths.suggest_models if isinstance(paths, Paths) else Path(paths)
    return folder / f"{target}.model"


@dataclass
class _Entry:
    stamp: tuple[int, int, int] | None   # (inode, size, mtime_ns) of the file last looked at; None: missing
    model: Model | None


_cache: dict[Path, _Entry] = {}
_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def current_model(paths: Paths | Path, target: Target) -> Model | None:
    """The ``target`` model in use, or None (and one warning per state of the file) when the desk must use rules."""
    path = model_path(paths, target)
    try:
        stamp = _stamp(path)
    except OSError as exc:
        return _remember(path, (-1, -1, -1), None, f"{path}: cannot be read ({exc}); suggesting by rules")
    with _lock:
        entry = _cache.get(path)
        if entry is not None and entry.stamp == stamp:
            return entry.model
    if stamp is None:
        return _remember(path, None, None, f"{path}: no {target} model yet; suggesting by rules")
    try:
        model = load(path)
    except ModelFileError as exc:
        return _remember(path, stamp, None, f"{exc}; suggesting by rules")
    except Exception as exc:  # noqa: BLE001 - a truncated or damaged file can fail anywhere in unpickling
        return _remember(path, stamp, None,
                         f"{path}: damaged {target} model ({exc.__class__.__name__}: {exc}); suggesting by rules")
    return _remember(path, stamp, model, None)


def _remember(path: Path, stamp: tuple[int, int, int] | None, model: Model | None,
              warning: str | None) -> Model | None:
    with _lock:
        entry = _cache.get(path)
        changed = entry is None or entry.stamp != stamp
        _cache[path] = _Entry(stamp, model)
    if warning and changed:
        log.warning(warning)
    return model


def forget() -> None:
    """Drop every cached model (tests)."""
    with _lock:
        _cache.clear()


__all__ = ["TARGETS", "Target", "current_model", "forget", "model_path"]
