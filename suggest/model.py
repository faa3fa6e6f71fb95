"""A trained suggester: the k likeliest labels for a text (and where it came from), each with a confidence and
its reasons.

A reason is an n-gram of the text that pushed hardest toward the label (its TF-IDF value times the
label's weight for it), so the agent sees *why*: "工资", "拖欠" for 劳动和社会保障. The columns are hashed and
have no names: the text's own n-grams are hashed again to name them (``Features.ngrams``), once per call and
only when a reason is asked for. The context (place, line)
weighs in the ranking but is not given as a reason: the agent sees the place on the form already.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sklearn.calibration import CalibratedClassifierCV

from suggest.classifier import label_weights
from suggest.features import Context, Features

REASONS = 5
_NOT_WORDS = " \t\r\n，。！？、；：,.!?;:“”‘’\"'（）()【】《》-—…·"


class Suggestion(NamedTuple):
    label: str
    confidence: float  # calibrated probability; the confidences of all labels sum to 1
    reasons: tuple[str, ...]  # the text's n-grams that weighed most for this label, strongest first


@dataclass
class Model:
    features: Features
    classifier: CalibratedClassifierCV
    n_examples: int
    held_out: dict[str, float] = field(default_factory=dict)  # top1, top3, n on examples kept out of training

    def __post_init__(self) -> None:
        self.labels: list[str] = [str(c) for c in self.classifier.classes_]
        self._weights = label_weights(self.classifier)

    def probabilities(self, texts: Sequence[str], contexts: Sequence[Context] | None = None) -> np.ndarray:
        """One row per text, one column per label (``self.labels`` order)."""
        proba: np.ndarray = self.classifier.predict_proba(self.features.transform(texts, contexts))
        return proba

    def top_k(self, text: str, k: int = 3, reasons: int = REASONS, context: Mapping[str, str] | None = None, *,
              only: Collection[str] | None = None, explain: int | None = None) -> list[Suggestion]:
        """The k likeliest labels for ``text``, likeliest first. ``context``: where the appeal came from (keys
        ``subplatform``, ``county``, ``town``, ``line``; others ignored). ``only``: the labels that may still be
        suggested (e.g. the units still active in the org tree); None: all. Empty or foreign text gives
        low-confidence answers (the labels' prior), never an error. ``explain``: how many of the k get reasons (the
        first ones; None: all), for a caller that reads deeper than it shows."""
        text = text if isinstance(text, str) else ""
        x = self.features.transform([text], [context])
        proba = self.classifier.predict_proba(x)[0]
        order = np.argsort(-proba, kind="stable")
        if only is not None:
            order = np.array([i for i in order if self.labels[i] in only], dtype=int)
        explained = k if explain is None else explain
        names: dict[int, str] | None = None
        out = []
        for rank, i in enumerate(order[:max(k, 0)]):
            why: tuple[str, ...] = ()
            if reasons > 0 and rank < explained:
                names = self.features.ngrams(text) if names is None else names
                why = self._reasons(x, i, reasons, names)
            out.append(Suggestion(self.labels[i], float(proba[i]), why))
        return out

    def _reasons(self, x: Any, label: int, limit: int, names: dict[int, str]) -> tuple[str, ...]:  # x: sparse row
        """The n-grams of ``x`` with the largest positive pull toward ``label``, without repeats for a
        reader: an n-gram inside one already chosen (资 after 工资) is skipped, and a longer one takes the
        place of the shorter ones it holds (出租车 replaces 租车)."""
        words = x.indices < self.features.n_words
        columns = x.indices[words]
        pull = x.data[words] * self._weights[label, columns]
        chosen: list[str] = []
        for j in np.argsort(-pull, kind="stable"):
            if pull[j] <= 0 or len(chosen) == limit:
                break
            ngram = names.get(int(columns[j]), "").strip(_NOT_WORDS)
            if not ngram or any(ngram in c for c in chosen):
                continue
            held = [i for i, c in enumerate(chosen) if c in ngram]
            if held:
                chosen[held[0]] = ngram
                chosen = [c for i, c in enumerate(chosen) if i not in held[1:]]
            else:
                chosen.append(ngram)
        return tuple(chosen)
