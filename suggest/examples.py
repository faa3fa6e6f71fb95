"""Labelled examples from a CSV file: columns ``title``, ``text``, ``label`` (others ignored)."""

from __future__ import annotations

import csv
from pathlib import Path

from suggest.features import join_title

COLUMNS = ("title", "text", "label")


def read_examples(path: str | Path) -> tuple[list[str], list[str]]:
    """(texts, labels); a text is the title and the body together. Rows without a label are skipped."""
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (rows.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
        pairs = [(join_title(r["title"] or "", r["text"] or ""), r["label"].strip())
                 for r in rows if (r["label"] or "").strip()]
    return [t for t, _ in pairs], [label for _, label in pairs]
