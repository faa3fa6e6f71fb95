"""`hotline suggest evaluate` on real citizen messages (TipDM 2020, 7 level-1 classes): trained on the
train split, measured on the fixed test split it never saw. The keyword rules reach 0.568 top-1 there."""

from __future__ import annotations

import re
import subprocess
import sys

from hotline.paths import PROJECT_ROOT
from tests.support.datasets import TIPDM_TEST, TIPDM_TRAIN

LAST_LINE = re.compile(r"top1=(\d\.\d{3}) top3=(\d\.\d{3}) n=(\d+)")
# The target is 0.90 / 0.97. The model chosen by cross-validation on the training split alone (with the title's
# own n-grams, issue 13) reaches top1=0.902 top3=0.992 here (deterministic); the floor is what it reaches minus
# 0.01, not the target.
MIN_TOP1 = 0.89
MIN_TOP3 = 0.98


def test_the_model_suggests_the_right_topic_first_nine_times_in_ten():
    done = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "suggest", "evaluate",
         "--train", str(TIPDM_TRAIN), "--test", str(TIPDM_TEST)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr
    assert "[suggest]" in done.stderr  # progress goes to stderr, the result alone to stdout
    last = done.stdout.strip().splitlines()[-1]
    found = LAST_LINE.fullmatch(last)
    assert found, f"last line {last!r} is not 'top1=0.xxx top3=0.xxx n=N'"
    top1, top3, n = float(found[1]), float(found[2]), int(found[3])
    assert n == 888
    assert top1 >= MIN_TOP1, last
    assert top3 >= MIN_TOP3, last


# ── host units (派单): TipDM attachment 4, the unit read from each official reply (bench/dispatch.py) ──────────
# The replies rarely name their unit: 461 of 2,816 do by the documented rule, naming 307 units (247 only once); 75
# messages of 8 units that answered at least 6 remain. On the fixed held-out 20 % (15 messages) the model reaches
# top1=0.400 top3=1.000 (deterministic). The target is 0.93; this data cannot show it either way (see
# BENCHMARKS.md). The floor is what it reaches minus one message.
MIN_UNIT_TOP1 = 0.33
MIN_UNIT_TOP3 = 0.93


def test_the_answering_unit_is_read_from_the_reply_s_signature_or_opening():
    from bench.dispatch import answering_unit

    assert answering_unit("……特此回复。 A7县教育局 2018年8月27日") == "A7县教育局"
    assert answering_unit("……感谢您的支持！\u3000中共A3区委办公室\u3000\u30002018年3月30日") == "A3区委办公室"
    assert answering_unit("您好！经马望堆街道办事处调查核实，现回复如下：……") == "马望堆街道"
    assert answering_unit("网友：您好！黄花镇人民政府高度重视，立即……") == "黄花镇政府"
    assert answering_unit("您好！我局高度重视，立即组织人员……2019年4月17日") is None   # "we": no name
    assert answering_unit("网友：您好！留言已收悉") is None


def test_the_model_suggests_the_unit_that_answered():
    from bench.dispatch import labelled_set, measure

    data = labelled_set()
    assert data.rows == 2816 and len(data.texts) + data.no_unit + data.rare_unit == data.rows
    assert len(data.texts) >= 60 and len(set(data.units)) >= 6
    scores = measure(data)
    assert scores["top1"] >= MIN_UNIT_TOP1 and scores["top3"] >= MIN_UNIT_TOP3, scores
