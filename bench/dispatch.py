"""Host-unit suggestions (派单): which unit answers a citizen's message, learnt from messages with official replies.

Data: TipDM 2020 attachment 4 (shared/datasets/tipdm2020c-zhihui-zhengwu/csv/attachment4_messages_with_replies.csv,
2,816 messages, each with the official reply). The reply names the unit that answered in one of two places, read by
:func:`answering_unit` in this order:

1. the signature: the reply ends with a unit's name, optionally followed by the date (``…特此回复。A7县教育局
   2018年8月27日``);
2. the opening: the unit that investigated or handled it, in the first 300 characters: ``经(过)<unit>调查/核实/
   核查/了解``, ``已转/要求<unit>调查/处理/办理/核实``, or ``<unit>高度重视/迅速/立即/及时/接到/收到/第一时间/
   工作人员``.

A unit is a run of 2–24 Chinese characters, letters or digits ending in a unit word (局, 委员会, 办公室, 政府,
街道, 镇, 乡, 中心, 公司, 大队, 支队, 中队, 院, 厅, 所, 站 …). Names that say "we" (我局, 我镇 …) or start
with a connective (对此, 近年来 …) name no unit. Names are normalised: 中共 dropped, 人民政府 → 政府,
街道办事处 → 街道. Messages whose reply names no unit are dropped, and so are units that answered fewer than
``MIN_PER_UNIT`` messages (a unit cannot be learnt, nor held out, from one or two); the benchmark prints both counts.

The model is the desk's (``suggest.train``): text = subject + details; context ``county`` = the first place code
of the message (``A7县``, ``A市`` …: TipDM's anonymised places), as a ticket's location would give it. A fixed,
stratified 20 % (seed ``SEED``) is held out; top-1/top-3 host-unit accuracy is measured on it.

    .venv/bin/python -m bench.dispatch
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sklearn.model_selection import train_test_split

from suggest.evaluation import top_k_accuracy
from suggest.features import join_title
from suggest.training import train
from tests.support.datasets import TIPDM

ATTACHMENT4 = TIPDM / "attachment4_messages_with_replies.csv"
MIN_PER_UNIT = 6   # the training part (80 %, stratified) then holds the 5 a label needs
HELD_OUT = 0.2
SEED = 12345

_CH = r"[\u4e00-\u9fa5A-Za-z0-9]"
_SUFFIX = (r"(?:人民政府|办事处|委员会|管理局|分局|局|委|办公室|政府|街道|镇|乡|中心|公司|大队|中队|支队|院|厅|所|站"
           r"|集团)")
_UNIT = r"(" + _CH + r"{2,24}?" + _SUFFIX + r")"
_DATE = r"(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日?|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})"
_BLANK = re.compile(r"[\s\u3000\xa0]+")
SIGNATURE = re.compile(r"(?:^|[。！!？?；;，, ])" + _UNIT + r" ?" + _DATE + r"?[ 。.]*$")
OPENINGS = (
    re.compile(r"经过?" + _UNIT + r"(?:进行)?(?:调查|核实|核查|了解)"),
    re.compile(r"(?:已转|要求)" + _UNIT + r"(?:进行)?(?:调查|处理|办理|核实|核查|了解)"),
    re.compile(r"(?:^|[，。！：；, ])" + _UNIT + r"(?:高度重视|迅速|立即|及时|接到|收到|第一时间|工作人员)"),
)
NOT_A_NAME = re.compile(r"^(?:我|经|对此|近年来|目前|同时|随后|为此|并|已|由|交|至|向|请|该|本|因此|针对|所在|我们)")
PLACE = re.compile(r"[A-Z]\d*(?:市|区|县)")


def normalise(unit: str) -> str:
    unit = unit.removeprefix("中共")
    return unit.replace("人民政府", "政府").replace("街道办事处", "街道")


def answering_unit(reply: str) -> str | None:
    """The unit a reply names as its author (module docstring: signature, then opening), or None."""
    text = _BLANK.sub(" ", reply).strip()
    candidates = [m.group(1) for m in [SIGNATURE.search(text[-80:])] if m]
    for pattern in OPENINGS:
        candidates += [m.group(1) for m in [pattern.search(text[:300])] if m]
    for unit in candidates:
        if not NOT_A_NAME.match(unit):
            return normalise(unit)
    return None


@dataclass
class Labelled:
    texts: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    contexts: list[dict[str, str]] = field(default_factory=list)
    rows: int = 0
    no_unit: int = 0
    rare_unit: int = 0


def labelled_set(path: Path = ATTACHMENT4, min_per_unit: int = MIN_PER_UNIT) -> Labelled:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    found = Labelled(rows=len(rows))
    pairs = []
    for row in rows:
        unit = answering_unit(row["答复意见"] or "")
        if unit is None:
            found.no_unit += 1
            continue
        text = join_title(row["留言主题"] or "", _BLANK.sub(" ", row["留言详情"] or ""))
        place = PLACE.search(text)
        pairs.append((text, unit, {"county": place.group(0)} if place else {}))
    counts = Counter(unit for _, unit, _ in pairs)
    for text, unit, context in pairs:
        if counts[unit] < min_per_unit:
            found.rare_unit += 1
            continue
        found.texts.append(text)
        found.units.append(unit)
        found.contexts.append(context)
    return found


def measure(data: Labelled, progress=lambda _: None) -> dict[str, float]:
    index = list(range(len(data.texts)))
    fit, held = train_test_split(index, test_size=HELD_OUT, stratify=data.units, random_state=SEED)
    model = train([data.texts[i] for i in fit], [data.units[i] for i in fit], progress=progress,
                  contexts=[data.contexts[i] for i in fit])
    scores = top_k_accuracy(model, [data.texts[i] for i in held], [data.units[i] for i in held],
                            contexts=[data.contexts[i] for i in held])
    scores["units"] = len(set(data.units))
    return scores


def main(min_per_unit: int) -> None:
    data = labelled_set(min_per_unit=min_per_unit)
    print(f"# TipDM attachment 4: {data.rows} messages; {data.no_unit} dropped (reply names no unit), "
          f"{data.rare_unit} dropped (unit answered fewer than {min_per_unit}); "
          f"{len(data.texts)} kept, {len(set(data.units))} units")
    for unit, n in Counter(data.units).most_common(10):
        print(f"#   {n:4d} {unit}")
    started = time.perf_counter()
    scores = measure(data, progress=lambda m: print(f"[dispatch] {m}", file=sys.stderr))
    print(f"# trained and measured in {time.perf_counter() - started:.1f} s")
    print(f"host unit, held-out {HELD_OUT:.0%} (seed {SEED}): top1={scores['top1']:.3f} top3={scores['top3']:.3f} "
          f"n={scores['n']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-per-unit", type=int, default=MIN_PER_UNIT)
    main(parser.parse_args().min_per_unit)
