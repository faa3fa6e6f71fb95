"""The pure parts of the KPIs: periods and their labels, rates with no denominator, ranking, the roll-up."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_desk.errors import DeskError
from agent_desk.supervision import kpi
from agent_desk.supervision.kpi import Row
from agent_desk.supervision.org import Node, OrgIndex
from agent_desk.supervision.periods import period_of

UTC = dt.UTC


def test_periods_and_their_chinese_labels():
    day = period_of("day", dt.date(2026, 11, 22))
    assert (day.label, day.start_utc, day.end_utc) == (
        "2026年11月22日", dt.datetime(2026, 11, 21, 16, tzinfo=UTC), dt.datetime(2026, 11, 22, 16, tzinfo=UTC))
    week = period_of("week", dt.date(2026, 11, 22))  # a Sunday: its ISO week began on Monday the 16th
    assert (week.label, week.start, week.end) == ("2026年第47周", dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert period_of("week", dt.date(2027, 1, 1)).label == "2026年第53周"  # ISO year, not calendar year
    month = period_of("month", dt.date(2026, 2, 10))
    assert (month.label, month.end, month.days) == ("2026年2月", dt.date(2026, 2, 28), 28)
    december = period_of("month", dt.date(2026, 12, 31))
    assert december.end_utc == dt.datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert period_of("year", dt.date(2026, 7, 1)).label == "2026年"
    custom = period_of("custom", start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 22))
    assert custom.label == "2026年11月1日至2026年11月22日" and custom.days == 22


def test_trend_buckets():
    day = period_of("day", dt.date(2026, 3, 31)).buckets()
    assert len(day) == 24 and day[0] == ("00时", dt.datetime(2026, 3, 30, 16, tzinfo=UTC)) and day[23][0] == "23时"
    assert [label for label, _ in period_of("week", dt.date(2026, 3, 18)).buckets()][:2] == ["3月16日", "3月17日"]
    year = period_of("year", dt.date(2026, 3, 18)).buckets()
    assert [label for label, _ in year] == [f"{m}月" for m in range(1, 13)]
    long = period_of("custom", start=dt.date(2026, 1, 15), end=dt.date(2026, 4, 10)).buckets()
    assert [label for label, _ in long] == ["2026年1月", "2026年2月", "2026年3月", "2026年4月"]
    assert long[0][1] == dt.datetime(2026, 1, 14, 16, tzinfo=UTC)  # the range's first day, not the 1st


@pytest.mark.parametrize("kind, kw, code", [
    ("fortnight", {}, "invalid_period"),
    ("custom", {"start": dt.date(2026, 1, 1)}, "custom_range_required"),
    ("custom", {"start": dt.date(2026, 2, 1), "end": dt.date(2026, 1, 1)}, "invalid_range"),
    ("custom", {"start": dt.date(2025, 1, 1), "end": dt.date(2026, 1, 2)}, "range_too_long"),
])
def test_bad_periods_are_422(kind, kw, code):
    with pytest.raises(DeskError) as err:
        period_of(kind, **kw)
    assert (err.value.status, err.value.code) == (422, code)


def test_a_rate_without_denominator_is_null():
    assert kpi.ratio(0, 0) == {"num": 0, "den": 0, "rate": None}
    assert kpi.ratio(3, 4)["rate"] == 0.75
    metrics = kpi.metrics({}, calls=False)
    assert metrics["satisfaction"] == {"num": 0, "den": 0, "rate": None}
    assert metrics["answer"] is None and metrics["aht"] is None
    assert kpi.metrics({"talked": 2, "talk_seconds": 301.0})["aht"] == {"seconds": 150.5, "n": 2}


def row(key, accepted, satisfied, verdicts, offered=0, abandoned=0):
    return Row(key, key, False, {"accepted": accepted, "satisfied": satisfied, "verdicts": verdicts,
                                 "offered": offered, "abandoned": abandoned}, True)


def test_ranking_ties_minimum_volume_and_direction():
    rows = [row("a", 10, 9, 10), row("b", 20, 18, 20), row("c", 30, 27, 30), row("d", 5, 5, 5), row("e", 50, 0, 0),
            row("f", 12, 6, 10)]
    ranked = [(r, x.key) for r, x in kpi.rank(rows, "satisfaction", 10)]
    # a, b, c all 90 %: one rank (bigger volume listed first), then f at 60 % is 4th; d (5 < 10) and e (no
    # verdicts) are listed unranked, by volume
    assert ranked == [(1, "c"), (1, "b"), (1, "a"), (4, "f"), (None, "e"), (None, "d")]
    lines = [row("12345", 0, 0, 0, offered=100, abandoned=5), row("12318", 0, 0, 0, offered=50, abandoned=1)]
    assert [x.key for _, x in kpi.rank(lines, "abandon", 10)] == ["12318", "12345"]  # lower is better
    with pytest.raises(DeskError):
        kpi.rank(rows, "happiness", 10)


def test_roll_up_along_the_tree():
    index = OrgIndex([Node(1, "P", "省", "province", None, None), Node(2, "C", "市", "subplatform", 1, "C"),
                      Node(3, "D", "局", "member_unit", 2, "C"), Node(4, "T", "镇", "town", 2, "C"),
                      Node(5, "G", "网格", "grid", 4, "C"), Node(6, "M", "厅", "member_unit", 1, None)])
    counts = {3: {"accepted": 1}, 5: {"accepted": 2}, 2: {"accepted": 4}, 6: {"accepted": 8}, None: {"accepted": 16}}
    top = kpi.roll_up(index, counts, 1, set())
    assert top == {2: {"accepted": 7}, 6: {"accepted": 8}}  # undispatched (None) is under no unit
    city = kpi.roll_up(index, counts, 2, set())
    assert city == {3: {"accepted": 1}, 4: {"accepted": 2}, 2: {"accepted": 4}}  # 2 itself: 本级
    areas = kpi.roll_up(index, counts, None, {2})
    assert areas == {2: {"accepted": 7}, None: {"accepted": 24}}  # M is no place; None stays unknown
    assert index.has_children(2) and not index.has_children(3)
    assert index.has_children(2, kpi.PLACE_KINDS) and not index.has_children(1, frozenset({"town"}))
    assert index.subtree(2) == {2, 3, 4, 5}
