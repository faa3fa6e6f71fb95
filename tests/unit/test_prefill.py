"""Prefill extraction from a transcript: places, phones, dates, appeal type, topic, emergencies."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.prefill import Prefill, appeal_type_of, city_from_speech, emergency_of, enrich, find_dates, find_phones
from tests.support.cer import cer

TODAY = dt.date(2024, 3, 10)


def test_a_typical_complaint():
    p = enrich(Prefill(call_id="c"), "我是琼海市嘉积镇的，家里自来水从昨天开始发黄，3月5号也出现过，电话13907551234",
               TODAY)
    assert [x["name"] for x in p.places] == ["琼海市", "嘉积镇"] and p.subplatform == "469002"
    assert p.phones == ["13907551234"]
    assert p.dates == ["2024-03-05", "2024-03-09"]
    assert p.topic["code"] == "03-water" and p.suggested_unit == "琼海市水务局"


def test_a_town_alone_gives_its_city_and_the_menu_choice_wins_over_words():
    p = enrich(Prefill(call_id="c", appeal_type="consultation"), "博鳌镇的出租车拒载，我要投诉", TODAY)
    assert p.subplatform == "469002" and p.appeal_type == "consultation"
    assert p.suggested_unit == "琼海市交通运输局"


def test_without_a_place_the_provincial_unit_is_suggested():
    p = enrich(Prefill(call_id="c"), "我想咨询一下社保怎么转移", TODAY)
    assert p.places == [] and p.suggested_unit == "海南省人力资源和社会保障厅"
    assert p.appeal_type == "consultation"


@pytest.mark.parametrize(("text", "phones"), [
    ("我的电话是幺三九零七五五幺二三四", ["13907551234"]),
    ("座机0898-65321234", ["089865321234"]),
    ("没有电话", []),
])
def test_phone_numbers_in_digits_and_in_spoken_chinese(text, phones):
    assert find_phones(text) == phones


def test_dates_absolute_chinese_and_relative():
    assert find_dates("三月五号和2023年12月1日", TODAY) == ["2024-03-05", "2023-12-01"]
    assert find_dates("前天晚上", TODAY) == ["2024-03-08"]
    assert find_dates("13月45日", TODAY) == []


@pytest.mark.parametrize(("text", "number"), [
    ("楼下着火了", "119"), ("有人晕倒了快叫救护车", "120"), ("有人持刀抢劫", "110"), ("刚才发生车祸", "122"),
    ("我要举报仓库有火灾隐患", ""), ("去年的车祸赔偿问题", ""), ("自来水发黄", ""),
])
def test_emergency_words(text, number):
    assert emergency_of(text) == number


def test_appeal_types():
    assert appeal_type_of("我要举报") == "complaint"
    assert appeal_type_of("我有一个建议") == "suggestion"
    assert appeal_type_of("表扬一下") == "other"
    assert appeal_type_of("请问办证需要什么") == "consultation"
    assert appeal_type_of("嗯") == ""


def test_city_from_a_short_utterance():
    assert city_from_speech("海口") == "460100"
    assert city_from_speech("我在陵水") == "469028"
    assert city_from_speech("嘉积镇") == "469002"
    assert city_from_speech("上海") == ""


def test_cer_normalises_numbers_and_punctuation():
    assert cer("设定29度。", "设定二十九度") == 0.0
    assert cer("", "abc") == 1.0
