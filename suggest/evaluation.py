"""Top-k accuracy: how often the right label is among the first k suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from suggest.features import Context
    from suggest.model import Model


def top_k_accuracy(model: Model, texts: Sequence[str], labels: Sequence[str],
                   ks: Sequence[int] = (1, 3), contexts: Sequence[Context] | None = None) -> dict[str, float]:
    """``{"top1": …, "top3": …, "n": …}``; a label the model never saw counts as a miss."""
    proba = model.probabilities(texts, contexts)
    ranked = np.asarray(model.labels)[np.argsort(-proba, axis=1, kind="stable")]
    truth = np.asarray(labels)[:, None]
    scores: dict[str, float] = {f"top{k}": float(np.mean(np.any(ranked[:, :k] == truth, axis=1))) for k in ks}
    scores["n"] = len(labels)
    return scores


def top1_hits(model: Model, texts: Sequence[str], labels: Sequence[str],
              contexts: Sequence[Context] | None = None) -> list[bool]:
    """Per example: is the model's first suggestion the label? (To compare two models on the same examples.)"""
    if not texts:
        return []
    proba = model.probabilities(texts, contexts)
    first = np.asarray(model.labels)[np.argmax(proba, axis=1)]
    return [bool(hit) for hit in first == np.asarray(labels)]
