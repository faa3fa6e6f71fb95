"""Training: refuse data too thin to learn from, measure on a held-out share, then fit on everything."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from sklearn.model_selection import train_test_split

from suggest.classifier import classifier
from suggest.evaluation import top_k_accuracy
from suggest.features import vectorizer
from suggest.model import Model

MIN_EXAMPLES = 50
MIN_PER_LABEL = 5
HELD_OUT_SHARE = 0.2
SEED = 12345


class TooFewExamples(ValueError):
    """The examples cannot support a model worth showing an agent."""


def check_examples(texts: Sequence[str], labels: Sequence[str]) -> Counter[str]:
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    counts = Counter(labels)
    if len(texts) < MIN_EXAMPLES:
        raise TooFewExamples(f"too few examples to train on: {len(texts)}, at least {MIN_EXAMPLES} are needed")
    if len(counts) < 2:
        raise TooFewExamples(f"only one label ({next(iter(counts), '')!r}): at least two are needed")
    thin = sorted((n, label) for label, n in counts.items() if n < MIN_PER_LABEL)
    if thin:
        listed = ", ".join(f"{label!r} has {n}" for n, label in thin)
        raise TooFewExamples(f"too few examples for some labels ({listed}): each label needs at least {MIN_PER_LABEL}")
    return counts


def fit(texts: Sequence[str], labels: Sequence[str]) -> Model:
    """Fit on all the examples given, without measuring."""
    check_examples(texts, labels)
    return _fit(texts, labels)


def _fit(texts: Sequence[str], labels: Sequence[str]) -> Model:
    counts = Counter(labels)
    vec = vectorizer()
    x = vec.fit_transform(texts)
    clf = classifier(min(counts.values())).fit(x, list(labels))
    return Model(vec, clf, n_examples=len(texts))


def train(texts: Sequence[str], labels: Sequence[str], progress: Callable[[str], None] = lambda _: None) -> Model:
    """Measure top-1/top-3 on a stratified held-out 20 %, then fit the kept model on every example."""
    check_examples(texts, labels)
    fit_texts, held_texts, fit_labels, held_labels = train_test_split(
        list(texts), list(labels), test_size=HELD_OUT_SHARE, stratify=list(labels), random_state=SEED)
    progress(f"measuring on a held-out {len(held_texts)} of {len(texts)} examples")
    trial = _fit(fit_texts, fit_labels)  # the minimums hold for the whole, not for this 80 %
    held_out = top_k_accuracy(trial, held_texts, held_labels)
    progress(f"held out: top1={held_out['top1']:.3f} top3={held_out['top3']:.3f}; fitting on all {len(texts)}")
    model = _fit(texts, labels)
    model.held_out = held_out
    return model
