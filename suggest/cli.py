"""``hotline suggest …``: train on one labelled CSV, measure on another."""

from __future__ import annotations

import argparse
import sys
import time

from suggest.evaluation import top_k_accuracy
from suggest.examples import read_examples
from suggest.training import TooFewExamples, train


def _progress(message: str) -> None:
    print(f"[suggest] {message}", file=sys.stderr, flush=True)


def evaluate(args: argparse.Namespace) -> int:
    """Train on ``--train``, print top-1/top-3 on ``--test``; the last line is ``top1=… top3=… n=…``."""
    try:
        train_texts, train_labels = read_examples(args.train)
        test_texts, test_labels = read_examples(args.test)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _progress(f"training on {len(train_texts)} examples from {args.train}")
    started = time.perf_counter()
    try:
        model = train(train_texts, train_labels, progress=_progress)
    except TooFewExamples as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _progress(f"trained in {time.perf_counter() - started:.1f} s; "
              f"testing on {len(test_texts)} examples from {args.test}")
    scores = top_k_accuracy(model, test_texts, test_labels)
    if args.save:
        from suggest.store import save
        save(model, args.save)
        _progress(f"model saved to {args.save}")
    print(f"top1={scores['top1']:.3f} top3={scores['top3']:.3f} n={scores['n']}", flush=True)
    return 0
