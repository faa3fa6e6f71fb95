"""Topic suggestions: today's keyword rules against the trained model, on real citizen messages.

TipDM 2020 (shared/datasets/tipdm2020c-zhihui-zhengwu): the model trains on train.csv (2201 messages) and
both are measured on test.csv (888 messages, 7 level-1 classes) that the model never saw. The rules'
topics (hotline/data/topics.yaml) are mapped by hand to the closest TipDM class (RULE_CLASS below);
a topic whose matters fall under a class outside those 7 (政法, 农村农业, 经济管理, 党务政务) maps to none
and counts as a miss, as does a message where no keyword hits. Top-3 of the rules: the topics ranked
by keyword hits, as classes, repeats removed. Latency: one ``Model.top_k(text, k=3)`` per test message, then
one ``Model.top_k(text, k=3, reasons=REASONS, context=…)`` (the desk's call: the context is the message's first
place code as ``county``, a sub-platform and a line) per test message; p50/p99 over ``--repeat`` passes.

    .venv/bin/python -m bench.suggest [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

from bench.stats import pct
from hotline.reference import topics
from suggest.evaluation import top_k_accuracy
from suggest.examples import read_examples
from suggest.model import REASONS
from suggest.training import train
from tests.support.datasets import TIPDM_TEST, TIPDM_TRAIN

RULE_CLASS: dict[str, str | None] = {
    "03-water": "城乡建设", "03-power": "城乡建设", "03-housing": "城乡建设", "03-sanitation": "城乡建设",
    "04-land": "城乡建设",  # 房屋征收, 规划 are 城乡建设 in TipDM's taxonomy
    "04-environment": "环境保护",
    "05-transport": "交通运输",
    "08-labour": "劳动和社会保障", "09-civil": "劳动和社会保障",  # 低保, 养老, 残疾: social security
    "02-health": "卫生计生",
    "01-education": "教育文体",
    "10-market": "商贸旅游",  # 消费, 商家, 价格
    "07-security": None, "06-agriculture": None, "11-tax": None, "13-conduct": None,
}


def rule_ranking(text: str) -> list[str | None]:
    """The rules' classes, most keyword hits first (ties in topics.yaml order, as the prefill picks)."""
    hits = [(sum(1 for w in t["keywords"] if w in text), i, t["code"]) for i, t in enumerate(topics())]
    ranked = [RULE_CLASS[code] for n, _, code in sorted(hits, key=lambda h: (-h[0], h[1])) if n > 0]
    return list(dict.fromkeys(ranked))


def rule_accuracy(texts: list[str], labels: list[str]) -> dict[str, float]:
    ranked = [rule_ranking(t) for t in texts]
    return {f"top{k}": statistics.fmean(label in r[:k] for r, label in zip(ranked, labels, strict=True))
            for k in (1, 3)}


def main(repeat: int) -> None:
    train_texts, train_labels = read_examples(TIPDM_TRAIN)
    test_texts, test_labels = read_examples(TIPDM_TEST)
    print(f"# TipDM 2020: train {len(train_texts)}, test {len(test_texts)} messages, {len(set(test_labels))} classes")
    rules = rule_accuracy(test_texts, test_labels)
    started = time.perf_counter()
    model = train(train_texts, train_labels, progress=lambda m: print(f"[suggest] {m}", file=sys.stderr))
    trained_s = time.perf_counter() - started
    scores = top_k_accuracy(model, test_texts, test_labels)
    model.top_k(test_texts[0])  # warm-up
    latencies, with_context, cpu = [], [], []
    contexts = [context_of(text) for text in test_texts]
    for _ in range(repeat):
        for text in test_texts:
            t0 = time.perf_counter()
            model.top_k(text, k=3)
            latencies.append((time.perf_counter() - t0) * 1000)
        for text, context in zip(test_texts, contexts, strict=True):
            t0, c0 = time.perf_counter(), time.process_time()
            model.top_k(text, k=3, reasons=REASONS, context=context)
            with_context.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    print(f"{'':14} | top1  | top3")
    print(f"{'keyword rules':14} | {rules['top1']:.3f} | {rules['top3']:.3f}")
    print(f"{'model':14} | {scores['top1']:.3f} | {scores['top3']:.3f}")
    print(f"# model held out of its own training data (20 %): top1={model.held_out['top1']:.3f} "
          f"top3={model.held_out['top3']:.3f} n={model.held_out['n']}")
    print(f"# training (held-out trial + final fit): {trained_s:.1f} s")
    print(f"# top_k(text, k=3) latency over {len(latencies)} calls: p50={pct(latencies, 50):.2f} ms "
          f"p99={pct(latencies, 99):.2f} ms max={max(latencies):.2f} ms")
    print(f"# top_k(text, k=3, reasons={REASONS}, context) latency over {len(with_context)} calls: "
          f"p50={pct(with_context, 50):.2f} ms p99={pct(with_context, 99):.2f} ms max={max(with_context):.2f} ms")
    print(f"# the same, CPU time of this process per call (what the box's load does not add): "
          f"p50={pct(cpu, 50):.2f} ms p99={pct(cpu, 99):.2f} ms max={max(cpu):.2f} ms")
    lengths = sorted(len(t) for t in test_texts)
    print(f"# message length: median {lengths[len(lengths) // 2]} chars, longest {lengths[-1]} chars")


PLACE = re.compile(r"[A-Z]\d*(?:市|区|县)")


def context_of(text: str) -> dict[str, str]:
    """What the desk would pass: the place (TipDM's anonymised place code) and where the call came in."""
    place = PLACE.search(text)
    return {"county": place.group(0) if place else "", "subplatform": "haikou", "line": "12345"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the test messages for the latency")
    main(parser.parse_args().repeat)
