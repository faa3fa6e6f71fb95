"""Topic suggestions: today's keyword rules against the trained model, on real citizen messages.

TipDM 2020 (shared/datasets/tipdm2020c-zhihui-zhengwu): the model trains on train.csv (2201 messages) and
both are measured on test.csv (888 messages, 7 level-1 classes) that the model never saw. The rules'
topics (hotline/data/topics.yaml) are mapped by hand to the closest TipDM class (RULE_CLASS below);
a topic whose matters fall under a class outside those 7 (政法, 农村农业, 经济管理, 党务政务) maps to none
and counts as a miss, as does a message where no keyword hits. Top-3 of the rules: the topics ranked
by keyword hits, as classes, repeats removed. Latency: one ``Model.top_k(text, k=3)`` per test message, then
one ``Model.top_k(text, k=3, reasons=REASONS, context=…)`` (the desk's call: the context is the message's first
place code as ``county``, a sub-platform and a line) per test message; p50/p99 over ``--repeat`` passes.

``--desk``: the desk's own call instead (``agent_desk.suggestions.service.suggest``: the topic and the unit model,
the keyword rules, the 直派清单 and 派单目录 rows and the org tree, in a SQLite database migrated and seeded with
the shipped reference data in a temporary folder). The topic model learns TipDM's classes under the closest
topic code (``RULE_CLASS``), the unit model the same messages under the host unit the catalogue names for that
topic in ``SUBPLATFORM``. ``--old DIR`` runs the same measurement, in the same run, against the code checked out
in DIR (``git archive <commit> | tar -x -C DIR``): this script, that code.

    .venv/bin/python -m bench.suggest [--repeat 3] [--desk [--old DIR]]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


SUBPLATFORM = "460100"


def desk_latency(repeat: int) -> dict[str, object]:
    """The desk's call over the test messages: wall-clock and CPU milliseconds per call, and what it answered."""
    from agent_desk.db.migrate import upgrade
    from agent_desk.db.models import DispatchRule, OrgUnit
    from agent_desk.db.session import Database
    from agent_desk.seed import load_reference_data
    from agent_desk.suggestions.service import LoadedModel, Place, suggest
    from sqlalchemy import select

    train_texts, train_labels = read_examples(TIPDM_TRAIN)
    test_texts, _ = read_examples(TIPDM_TEST)
    topic_of = {cls: code for code, cls in reversed(list(RULE_CLASS.items())) if cls}
    with tempfile.TemporaryDirectory(prefix="bench-suggest-") as home:
        url = f"sqlite:///{home}/desk.sqlite3"
        upgrade(url)
        db = Database(url)
        with db.session() as session:
            load_reference_data(session)
        with db.session() as session:
            rows = session.execute(select(DispatchRule.topic, OrgUnit.code).join(OrgUnit)
                                   .where(DispatchRule.kind == "catalogue",
                                          DispatchRule.subplatform == SUBPLATFORM)).all()
            catalogue = {topic: code for topic, code in rows}
        unit_of = {cls: catalogue[code] for cls, code in topic_of.items()}
        quiet = lambda _: None  # noqa: E731
        topic_model = train(train_texts, [topic_of[label] for label in train_labels], progress=quiet)
        unit_model = train(train_texts, [unit_of[label] for label in train_labels], progress=quiet)

        class Models:
            def get(self, kind: str) -> LoadedModel:
                return LoadedModel(topic_model if kind == "topic" else unit_model, kind)

        models, place = Models(), Place(subplatform=SUBPLATFORM, line="12345")
        wall, cpu, answers = [], [], []
        with db.session() as session:
            suggest(session, models, test_texts[0], place)   # warm-up
            for _ in range(repeat):
                for text in test_texts:
                    t0, c0 = time.perf_counter(), time.process_time()
                    answer = suggest(session, models, text, place)
                    wall.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                    if len(answers) < len(test_texts):
                        answers.append([[(i.code, i.rule, i.reasons) for i in answer.topics],
                                        [(i.code, i.rule, i.reasons) for i in answer.units]])
        db.dispose()
    return {"calls": len(wall), "p50": pct(wall, 50), "p99": pct(wall, 99), "max": max(wall),
            "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99), "answers": answers}


def desk(repeat: int, old: str | None) -> None:
    print(f"# the desk's call service.suggest(session, models, text, place): topic + unit models, rules, "
          f"over {repeat} passes of the TipDM test messages; loaded box (2 cores shared)")
    runs: list[tuple[str, dict[str, object]]] = []
    if old:
        script = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); sys.argv = [sys.argv[2], '--desk-json', "
                  "sys.argv[3]]; runpy.run_path(sys.argv[0], run_name='__main__')")
        done = subprocess.run([sys.executable, "-c", script, old, str(Path(__file__).resolve()), str(repeat)],
                              cwd=old, capture_output=True, text=True, check=True,
                              env={**os.environ, "HOTLINE_SHARED": str(TIPDM_TRAIN.parents[3])})
        runs.append(("old", json.loads(done.stdout.strip().splitlines()[-1])))
    runs.append(("new", desk_latency(repeat)))
    print(f"{'code':>4} | {'calls':>5} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'CPU p50':>7} | "
          f"{'CPU p99':>7}")
    for name, r in runs:
        print(f"{name:>4} | {r['calls']:>5} | {r['p50']:>7.2f} | {r['p99']:>7.2f} | {r['max']:>7.2f} | "
              f"{r['cpu_p50']:>7.2f} | {r['cpu_p99']:>7.2f}")
    if old:
        before, after = (r["answers"] for _, r in runs)
        same_codes = sum(_codes(a) == _codes(b) for a, b in zip(before, after, strict=True))  # type: ignore[arg-type]
        print(f"# the same topic and unit codes, in the same order, as the old code: {same_codes} of {len(after)} "  # type: ignore[arg-type]
              f"messages (the models differ: hashed n-grams, texts capped)")


def _codes(answer: list[list[list[object]]]) -> list[list[object]]:
    return [[item[0] for item in items] for items in answer]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the test messages for the latency")
    parser.add_argument("--desk", action="store_true", help="the desk's service call instead of Model.top_k")
    parser.add_argument("--old", help="with --desk: a checkout of the old code, measured in the same run")
    parser.add_argument("--desk-json", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.desk_json:
        print(json.dumps(desk_latency(args.desk_json)))
    elif args.desk:
        desk(args.repeat, args.old)
    else:
        main(args.repeat)
