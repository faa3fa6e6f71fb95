"""Training: refuse data too thin to learn from, measure on a held-out share, then fit on everything.

A center's history can be far longer than is worth learning from: the examples are taken oldest first (the desk
gives its closed tickets in ticket order) and only the most recent ``WINDOW`` are used. Topics, units and the
way citizens speak of them drift (a unit is merged, a new policy brings a new matter); the recent ones are what
the agent will see next. 200,000 tickets is about a year and a half of a province's 12345 at ~400 closed tickets
a day, every season seen at least once; it also bounds the memory and time of training (about 7 GB and 4 minutes
of CPU, see BENCHMARKS.md), which a desk retraining beside live calls on a small server must afford. A label
with fewer than ``MIN_PER_LABEL`` examples inside the window is left out (a topic or unit that has almost
stopped occurring).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sklearn.model_selection import train_test_split

from suggest.classifier import fit_classifier
from suggest.evaluation import top1_hits, top_k_accuracy
from suggest.features import Context, Counts, Features
from suggest.model import Model

MIN_EXAMPLES = 50
MIN_PER_LABEL = 5
HELD_OUT_SHARE = 0.2
SEED = 12345
WINDOW = 200_000


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


@dataclass(frozen=True)
class HeldOut:
    """The examples kept out of the trial fit, to measure it (and any other model on the same examples)."""

    texts: list[str]
    labels: list[str]
    contexts: list[Context] | None
    index: list[int]    # their positions in the examples given to training
    hits: list[bool]    # whether the trial model's first suggestion was right, one per held-out example


def recent(labels: Sequence[str], window: int | None = None) -> Sequence[int]:
    """The positions of the examples learnt from: the last ``window`` (default ``WINDOW``; examples are given
    oldest first), without the labels too rare among them to learn."""
    window = WINDOW if window is None else window
    if len(labels) <= window:
        return range(len(labels))
    start = len(labels) - window
    counts = Counter(labels[start:])
    return [i for i in range(start, len(labels)) if counts[labels[i]] >= MIN_PER_LABEL]


def _take(positions: Sequence[int], texts: Sequence[str], labels: Sequence[str],
          contexts: Sequence[Context] | None) -> tuple[Sequence[str], Sequence[str], Sequence[Context] | None]:
    if isinstance(positions, range) and len(positions) == len(texts):
        return texts, labels, contexts
    return ([texts[i] for i in positions], [labels[i] for i in positions],
            None if contexts is None else [contexts[i] for i in positions])


def fit(texts: Sequence[str], labels: Sequence[str], contexts: Sequence[Context] | None = None) -> Model:
    """Fit on the examples given (the most recent ``WINDOW`` of them), without measuring."""
    if contexts is not None and len(contexts) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
    check_examples(texts, labels)
    texts, labels, contexts = _take(recent(labels), texts, labels, contexts)
    check_examples(texts, labels)
    return _fit(texts, labels, contexts)


def _fit(texts: Sequence[str], labels: Sequence[str], contexts: Sequence[Context] | None = None,
         counts: Counts | None = None) -> Model:
    features = Features()
    x = features.fit_transform(texts, contexts, counts)
    clf = fit_classifier(x, list(labels), min(Counter(labels).values()))
    return Model(features, clf, n_examples=len(texts))


def train(texts: Sequence[str], labels: Sequence[str], progress: Callable[[str], None] = lambda _: None,
          contexts: Sequence[Context] | None = None) -> Model:
    """Measure top-1/top-3 on a stratified held-out 20 %, then fit the kept model on every example."""
    return train_held_out(texts, labels, progress, contexts)[0]


def train_held_out(texts: Sequence[str], labels: Sequence[str], progress: Callable[[str], None] = lambda _: None,
                   contexts: Sequence[Context] | None = None) -> tuple[Model, HeldOut]:
    """:func:`train`, also giving back the held-out examples it was measured on (``HeldOut.index``: their
    positions in the examples given, whatever the window left out)."""
    given = len(texts)
    check_examples(texts, labels)
    if contexts is not None and len(contexts) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
    positions = recent(labels)
    texts, labels, contexts = _take(positions, texts, labels, contexts)
    check_examples(texts, labels)
    if len(texts) < given:
        progress(f"learning from the most recent {len(texts)} of {given} examples")
    counts = Counts.of(texts)   # hashed once, shared by the trial and the final fit
    index = list(range(len(texts)))
    fit_index, held_index = train_test_split(index, test_size=HELD_OUT_SHARE, stratify=list(labels),
                                             random_state=SEED)
    held_texts, held_labels = [texts[i] for i in held_index], [labels[i] for i in held_index]
    held_contexts = None if contexts is None else [contexts[i] for i in held_index]
    progress(f"measuring on a held-out {len(held_index)} of {len(texts)} examples")
    trial = _fit([texts[i] for i in fit_index], [labels[i] for i in fit_index],  # the minimums hold for the
                 None if contexts is None else [contexts[i] for i in fit_index],  # whole, not for this 80 %
                 counts.rows(fit_index))
    held_out = top_k_accuracy(trial, held_texts, held_labels, contexts=held_contexts)
    held = HeldOut(held_texts, held_labels, held_contexts, [positions[i] for i in held_index],
                   top1_hits(trial, held_texts, held_labels, held_contexts))
    progress(f"held out: top1={held_out['top1']:.3f} top3={held_out['top3']:.3f}; fitting on all {len(texts)}")
    del trial
    model = _fit(texts, labels, contexts, counts)
    model.held_out = held_out
    return model, held
