"""suggest.duplicates (并单 candidates): the place rule, the window, the content threshold, the reasons; and
precision/recall on real TipDM messages (bench/duplicates.py's construction, smaller) with an honest floor."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from suggest.duplicates import WINDOW, Appeal, Candidate, candidates, same_place
from suggest.similarity import TextSpace
from tests.support.datasets import TIPDM_TRAIN

NOW = dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.UTC)
HISTORY = [  # the center's own texts the space is fitted on
    "金海岸小区自来水发黄，有铁锈味。", "家里水龙头出来的自来水发黄浑浊，不敢饮用。",
    "银海路路面坑洼，雨天积水，车辆难行。",
    "某工地拖欠工资三个月，劳动监察不管。", "夜间施工噪音扰民到凌晨。", "孩子入学报名没有学位，学校不收。",
    "幼儿园乱收费，学费太贵。", "社保卡丢了怎么挂失补办？", "小区停水两天了，自来水一直没来。", "路灯不亮，晚上很黑。",
]


def appeal(id: str, text: str, town: str = "469002-嘉积镇", county: str = "469002", hours: float = 1.0,
           subplatform: str = "469002") -> Appeal:
    return Appeal(id, text, subplatform, county, town, NOW - dt.timedelta(hours=hours))


@pytest.fixture(scope="module")
def space() -> TextSpace:
    return TextSpace.fit(HISTORY)


OPEN = [appeal("t1", "金海岸小区自来水发黄，有铁锈味，请水务部门处理。"),
        appeal("t2", "银海路路面坑洼，雨天积水。"),
        appeal("t3", "夜间施工噪音扰民到凌晨两点。"),
        appeal("t4", "金海岸小区自来水发黄，有铁锈味。", town="469002-博鳌镇"),        # another town
        appeal("t5", "金海岸小区自来水发黄，有铁锈味。", hours=24 * 8),                # older than the window
        appeal("t6", "金海岸小区自来水发黄，有铁锈味。", town="", county="469005")]     # another county


def test_the_same_matter_in_the_same_town_within_the_window_is_a_candidate_with_its_reason(space: TextSpace):
    new = Appeal("new", "金海岸小区的自来水发黄了，还有铁锈味", "469002", "469002", "469002-嘉积镇", NOW)
    found = candidates(new, OPEN, space=space)
    assert [c.id for c in found] == ["t1"]
    [hit] = found
    assert isinstance(hit, Candidate) and 0.3 <= hit.score <= 1.0
    assert set(hit.reasons) == {"金海岸小区", "自来水发黄", "有铁锈味"}


def test_the_place_rule_compares_the_finest_level_both_know():
    town = appeal("a", "x")
    assert same_place(town, appeal("b", "x"))
    assert not same_place(town, appeal("b", "x", town="469002-博鳌镇"))
    assert same_place(town, appeal("b", "x", town=""))                     # town unknown: the county decides
    assert not same_place(town, appeal("b", "x", town="", county="469005", subplatform="469005"))
    assert same_place(appeal("a", "x", town="", county=""), appeal("b", "x", town="", county=""))  # sub-platform
    nowhere = Appeal("a", "x", at=NOW)
    assert not same_place(nowhere, nowhere)                                # no place at all: matches nothing


def test_a_county_level_appeal_meets_the_towns_of_its_county(space: TextSpace):
    new = Appeal("new", "金海岸小区自来水发黄，有铁锈味", "469002", "469002", "", NOW)
    assert {c.id for c in candidates(new, OPEN, space=space)} == {"t1", "t4"}


def test_the_window_is_seven_days_either_side(space: TextSpace):
    assert dt.timedelta(days=7) == WINDOW
    new = appeal("new", "金海岸小区自来水发黄，有铁锈味", hours=0)
    later = [appeal("t7", "金海岸小区自来水发黄，有铁锈味", hours=-24 * 6)]   # an open ticket 6 days after
    assert [c.id for c in candidates(new, later, space=space)] == ["t7"]
    assert candidates(new, later, space=space, window=dt.timedelta(days=5)) == []
    untimed = [Appeal("t8", "金海岸小区自来水发黄，有铁锈味", "469002", "469002", "469002-嘉积镇", None)]
    assert candidates(new, untimed, space=space) == []
    naive = [Appeal("t9", "金海岸小区自来水发黄，有铁锈味", "469002", "469002", "469002-嘉积镇",
                    (NOW - dt.timedelta(hours=3)).replace(tzinfo=None))]   # naive: taken as UTC
    assert [c.id for c in candidates(new, naive, space=space)] == ["t9"]


def test_bad_input_gives_no_candidates_and_never_raises(space: TextSpace):
    for text in ("", "。。", "水", "Hello, my tap water is yellow", "Вода жёлтая"):
        assert candidates(appeal("new", text), OPEN, space=space) == [], text
    assert candidates(appeal("t1", OPEN[0].text), OPEN[:1], space=space) == []   # never itself
    assert candidates(appeal("new", OPEN[0].text), [], space=space) == []
    assert candidates(appeal("new", OPEN[0].text), OPEN, space=space, limit=0) == []
    assert candidates(appeal("new", OPEN[0].text), OPEN, space=TextSpace.fit([])) == []


def test_without_a_space_one_is_fitted_on_the_appeals_compared():
    new = appeal("new", "金海岸小区的自来水发黄了，还有铁锈味")
    assert [c.id for c in candidates(new, OPEN)] == ["t1"]


def test_place_names_can_be_cut_out_so_they_link_nothing(space: TextSpace):
    open_ = [appeal("t1", "嘉积镇银海路路灯不亮。"), appeal("t2", "嘉积镇银海路井盖丢了。")]
    new = appeal("new", "嘉积镇银海路下水道堵塞。")
    assert candidates(new, open_, space=space, threshold=0.1)            # the place's words alone link them
    assert candidates(new, open_, space=space, threshold=0.1, ignore=["嘉积镇", "银海路"]) == []


def test_limit_and_order_best_first(space: TextSpace):
    open_ = [appeal(f"t{i}", text) for i, text in enumerate(
        ["金海岸小区自来水发黄", "金海岸小区自来水发黄，有铁锈味", "金海岸小区自来水发黄，有铁锈味，不敢喝"])]
    found = candidates(appeal("new", "金海岸小区自来水发黄，有铁锈味"), open_, space=space, limit=2)
    assert len(found) == 2 and found[0].id == "t1" and found[0].score >= found[1].score


# The benchmark's construction on the TipDM train split (the benchmark's figure is on test + attachment4):
# rephrasings of real messages among every other message of their county. bench/duplicates.py measured
# precision 0.99 / recall 0.93 over all kinds at 150 queries per kind; the floors are below what it reaches.
MIN_PRECISION, MIN_RECALL = 0.9, 0.85


def test_rephrased_real_messages_find_their_original_among_their_countys_messages():
    from bench.duplicates import evaluate, read_split, verbatim_pairs

    if not TIPDM_TRAIN.exists():
        pytest.fail(f"{TIPDM_TRAIN} is missing: the shared data sets lie beside the checkout")
    messages = read_split(TIPDM_TRAIN, "r")
    pool = [m for m in messages if m.county]
    space = TextSpace.fit(m.text for m in messages)
    tallies = evaluate(space, pool, [], verbatim_pairs(pool), 25, random.Random(5))
    shown = sum(t.shown for t in tallies.values())
    right = sum(t.right for t in tallies.values())
    expected = sum(t.expected for t in tallies.values())
    assert tallies["short"].queries == tallies["shuffled"].queries == 25
    assert right / shown >= MIN_PRECISION, {k: t.line(k) for k, t in tallies.items()}
    assert right / expected >= MIN_RECALL, {k: t.line(k) for k, t in tallies.items()}
    assert tallies["near-other-place"].shown <= 1 and tallies["outside-window"].shown == 0
