"""A model on disk: a small header (what it is, format and scikit-learn versions, held-out accuracy),
then the model itself (joblib). The header is read first, so a file from another format or another
scikit-learn is refused before any of its model is unpickled.

Only load files this project wrote: unpickling runs code chosen by whoever wrote the file.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import tempfile
from pathlib import Path
from typing import IO, Any

import joblib
import sklearn

from suggest.model import Model

KIND = "hotline-suggest"
FORMAT_VERSION = 3   # 2: features with the opening and the context (issue 13); 3: hashed n-grams


class ModelFileError(ValueError):
    """The file is not a suggestion model this code can use."""


def header(model: Model, **extra: Any) -> dict[str, Any]:
    """What the file says about itself; ``extra`` adds fields (the desk's training: target, version)."""
    return {**extra, "kind": KIND, "format": FORMAT_VERSION, "sklearn": sklearn.__version__,
            "labels": list(model.labels), "n_examples": model.n_examples, "held_out": dict(model.held_out),
            "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def save(model: Model, path: str | Path, **extra: Any) -> dict[str, Any]:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = header(model, **extra)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(head, f, protocol=pickle.HIGHEST_PROTOCOL)
            joblib.dump(model, f, compress=3)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return head


def read_header(path: str | Path) -> dict[str, Any]:
    with Path(path).open("rb") as f:
        return _checked_header(f, path)


def load(path: str | Path) -> Model:
    with Path(path).open("rb") as f:
        _checked_header(f, path)
        model = joblib.load(f)
    if not isinstance(model, Model):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not a suggestion model")
    return model


def _checked_header(f: IO[bytes], path: str | Path) -> dict[str, Any]:
    try:
        head = pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unreadable start means "not ours"
        raise ModelFileError(f"{path}: not a suggestion model file ({exc.__class__.__name__})") from None
    if not isinstance(head, dict) or head.get("kind") != KIND:
        raise ModelFileError(f"{path}: not a suggestion model file")
    if head.get("format") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format {head.get('format')!r}, this code reads format {FORMAT_VERSION}: "
                             "train the model again")
    if head.get("sklearn") != sklearn.__version__:
        raise ModelFileError(f"{path}: saved with scikit-learn {head.get('sklearn')}, this is {sklearn.__version__}: "
                             "train the model again")
    return head
