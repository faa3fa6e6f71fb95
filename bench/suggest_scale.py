"""Training the suggestion model at a center's scale: time and peak memory for 100k (and more) tickets.

The tickets are made at run time, never stored: TipDM 2020 training messages (2,201, 7 classes) resampled with
small perturbations so that no two are the same text: a random sentence of the message dropped, a few characters
dropped, its place code replaced by another, and a context (one of 19 sub-platforms, one of 60 counties, one of
4 lines). Each size runs in a fresh subprocess, so ``ru_maxrss`` (the peak resident memory) is that run's own;
the figure includes the generated texts. What is timed is ``suggest.training.fit`` (one fit on every ticket: the
calibrated SVM over TF-IDF of the text, its opening and the context; from ``suggest.training.WINDOW`` tickets
on, the most recent ones only); ``hotline desk train`` also fits a trial on 80 % to measure it (sharing the
hashed counts), so it takes about 1.7 times as long.

``--old DIR``: also run each size with the code checked out in DIR (e.g. ``git archive <commit> | tar -x -C DIR``),
same Python, same generated tickets, one after the other in the same run, to put old and new side by side.

    .venv/bin/python -m bench.suggest_scale [--sizes 100000 1000000] [--budget 300] [--old DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time

from tests.support.datasets import DATASETS

SEED = 12345
_SENTENCES = re.compile(r"(?<=[。！？；])")
_PLACE = re.compile(r"[A-Z]\d*(?=[市区县])")


def perturbed(texts: list[str], labels: list[str], n: int, seed: int = SEED) -> tuple[list[str], list[str],
                                                                                       list[dict[str, str]]]:
    rng = random.Random(seed)
    out_texts, out_labels, contexts = [], [], []
    letters = "ABCDEFGHIJKLM"
    for _ in range(n):
        i = rng.randrange(len(texts))
        sentences = [s for s in _SENTENCES.split(texts[i]) if s]
        if len(sentences) > 2:
            del sentences[rng.randrange(1, len(sentences))]
        text = "".join(sentences)
        chars = list(text)
        for _ in range(min(3, len(chars) // 20)):
            del chars[rng.randrange(len(chars))]
        text = _PLACE.sub(lambda _: f"{rng.choice(letters)}{rng.randrange(1, 12)}", "".join(chars))
        out_texts.append(text)
        out_labels.append(labels[i])
        contexts.append({"subplatform": f"sp{rng.randrange(19)}", "county": f"c{rng.randrange(60)}",
                         "line": rng.choice(("12345", "12315", "12369", "12366"))})
    return out_texts, out_labels, contexts


def one_size(n: int) -> dict[str, float]:
    """Run in the subprocess: generate, fit, report."""
    from suggest.examples import read_examples
    from suggest.training import fit
    from tests.support.datasets import TIPDM_TRAIN

    texts, labels = read_examples(TIPDM_TRAIN)
    started = time.perf_counter()
    gen_texts, gen_labels, contexts = perturbed(texts, labels, n)
    generated_s = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    model = fit(gen_texts, gen_labels, contexts)
    fit_s, fit_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"n": n, "generate_s": round(generated_s, 1), "fit_s": round(fit_s, 1), "fit_cpu_s": round(fit_cpu_s, 1),
            "peak_rss_mb": round(rss_peak / 1024), "rss_before_fit_mb": round(rss_before / 1024),
            "features": _columns(model), "learnt": model.n_examples, "chars": sum(len(t) for t in gen_texts)}


def _columns(model: object) -> int:
    """The n-gram columns the model can weigh: its vocabulary (old), or the hashed columns with an IDF (new)."""
    features = model.features  # type: ignore[attr-defined]
    if hasattr(features, "names"):
        return len(features.names)
    return int(sum((part.idf_ > 0).sum() for part in (features.text, features.head) if part is not None))


def main(sizes: list[int], budget: float, old: str | None, old_sizes: list[int] | None) -> None:
    print(f"# training time and peak memory, one subprocess per size (budget {budget:.0f} s each); loaded box")
    print(f"{'code':>4} | {'tickets':>9} | {'learnt':>7} | {'fit s':>7} | {'CPU s':>7} | {'peak RSS MB':>11} | "
          f"{'RSS before fit MB':>17} | {'columns':>9}")
    env = {**os.environ, "HOTLINE_SHARED": str(DATASETS.parent)}
    for n in sizes:
        runs = [("new", None)]
        if old and (old_sizes is None or n in old_sizes):
            runs.append(("old", old))
        for name, cwd in runs:
            try:
                done = subprocess.run([sys.executable, "-m", "bench.suggest_scale", "--one", str(n)], cwd=cwd, env=env,
                                      capture_output=True, text=True, timeout=budget, check=True)
            except subprocess.TimeoutExpired:
                print(f"{name:>4} | {n:>9} | did not finish within {budget:.0f} s", flush=True)
                continue
            except subprocess.CalledProcessError as exc:
                print(f"{name:>4} | {n:>9} | failed: {exc.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{name:>4} | {r['n']:>9} | {r.get('learnt', r['n']):>7} | {r['fit_s']:>7.1f} | "
                  f"{r['fit_cpu_s']:>7.1f} | {r['peak_rss_mb']:>11} | {r['rss_before_fit_mb']:>17} | "
                  f"{r['features']:>9}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds a size may take before it is given up")
    parser.add_argument("--old", help="a checkout of the old code to run beside the new (same Python)")
    parser.add_argument("--old-sizes", type=int, nargs="+", help="the sizes to run the old code at (default: all)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one)))
    else:
        main(args.sizes, args.budget, args.old, args.old_sizes)
