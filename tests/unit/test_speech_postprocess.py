"""The correction pass on final transcripts (ivr/speech/postprocess.py) and Whisper's echo guard.

Cases are what Whisper base wrote for the recordings of shared/stt-samples at 8 kHz (bench/stt.py), what a
caller on the hotline says, and text that must come out unchanged."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.prefill import find_dates, find_phones, find_places
from ivr.speech.postprocess import clean, normalise_numbers, snap_names, to_simplified
from ivr.speech.whisper_engine import OLD_PROMPT, PROMPT, drop_echo

TODAY = dt.date(2025, 6, 1)


# ── phone numbers ───────────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize(("heard", "number"), [
    ("一三八八九零七九七零二", "13889079702"),      # BAC009S0150W0088, read digit by digit
    ("七七幺五九三八四", "77159384"),               # BAC009S0252W0088, 幺 for 1
    ("七七一五九三八四", "77159384"),               # what Whisper wrote for it
    ("我的电话是幺三洞八八九零七九七零", "13088907970"),  # 洞 for 0, as on a radio
    ("电话 138 8907 9702 谢谢", "13889079702"),    # the model's own grouping
    ("号码是138-8907-9702。", "13889079702"),
    ("座机0898 6668 8888", "089866688888"),
])
def test_a_spoken_or_grouped_phone_number_becomes_one_run_of_digits(heard, number):
    assert number in clean(heard)
    assert number in find_phones(clean(heard))


# ── dates ───────────────────────────────────────────────────────────────────────────────────────────────
def test_a_date_read_digit_by_digit_is_found_by_the_prefill():
    heard = "二零二四年三月五号在海口市停的水"
    assert find_dates(heard, TODAY) != ["2024-03-05"]  # before: the year was lost (read as this year)
    assert clean(heard) == "2024年3月5号在海口市停的水"
    assert find_dates(clean(heard), TODAY) == ["2024-03-05"]
    assert clean("十二月三十一日") == "12月31日"
    assert clean("会发现一九九零年后出生的人口急剧减少") == "会发现1990年后出生的人口急剧减少"  # BAC009S0150W0176


# ── near-miss names ─────────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize(("heard", "meant"), [
    ("我住在海扣市龙华区", "我住在海口市龙华区"),       # 扣 for 口, same syllable
    ("琼海市加积镇的自来水发黄", "琼海市嘉积镇的自来水发黄"),
    ("五只山市", "五指山市"),
    ("找一下水污局", "找一下水务局"),
    ("文昌市住房和城乡建设居", "文昌市住房和城乡建设居"),  # the ending must be heard right: 居 is not 局
])
def test_a_near_miss_place_or_unit_is_snapped_to_the_gazetteer(heard, meant):
    assert clean(heard) == meant


def test_a_snapped_place_reaches_the_prefill():
    assert [p.name for p in find_places(clean("我住在海扣市龙华区"))] == ["海口市", "龙华区"]


@pytest.mark.parametrize("text", [
    # recordings' references (shared/stt-samples) and what Whisper wrote for them
    "上海市第一食品商店", "上海是第一食品商店", "绍兴饭店", "这正是三点三零新政后",
    "而开发商并没有在新政出台后选择了涨价",
    "一点五倍以上是安全的", "而中国目前实际是十一倍", "新工厂将提供至少十五万个就业机会", "设定二十九度",
    "营业收入和净利润为百分之八十涨幅双双放缓", "在记者会结束后的四个小时内", "东南四环多车事故是七车追尾所致",
    "嗯变温温度设为两度", "车辆起火无人员伤亡", "广州市房地产中介协会分析", "除带小女儿逛花博",
    # words that sound like a listed name but are not one
    "海口是个好地方", "长江很长", "省税务局", "由农村迁往城镇", "时买的一个城镇户口", "距离集镇不足三公里",
    "大盛镇铁塘村", "六亩塘镇人民政府", "三三两两", "一五一十", "三月份", "五号楼", "二十一号", "十三月五号",
    # numbers that are not phone numbers
    "于2019-06-28不慎", "GB50016一2014", "电话0898-66668888", "身份证四六零一零零一九九零零一零一一二三四",
])
def test_correct_text_is_left_alone(text):
    assert clean(text) == text


def test_traditional_characters_become_simplified_and_spaces_between_words_go():
    assert to_simplified("這幢大樓的所有權已被證券化") == "这幢大楼的所有权已被证券化"  # BAC009S0150W0263
    assert clean("我住在長流鎮") == "我住在长流镇"
    assert clean("海口 市 龙华 区 停水") == "海口市龙华区停水"  # a Chinese Vosk model separates words
    assert clean("안녕하세요 감사합니다") == "안녕하세요 감사합니다"  # other scripts keep their spaces


def test_the_pass_is_idempotent_and_total():
    for text in ("", "。", "海扣市二零二四年三月五号幺三八八九零七九七零二", "abc 123"):
        assert clean(clean(text)) == clean(text)
    assert normalise_numbers("") == "" and snap_names("") == ""


# ── Whisper's echo guard ────────────────────────────────────────────────────────────────────────────────
def test_the_prompt_echoed_back_is_dropped():
    assert drop_echo("以下是普通话的句子。", PROMPT) == ""
    assert drop_echo("还是外形，使用简体中文。使用简体中文。", OLD_PROMPT) == "还是外形，"  # BAC009S0252W0276


def test_a_word_looping_five_times_or_more_is_kept_once():
    looped = "我们在说,我们" + "上次" * 40 + "上和歌"  # TEST_MEETING_T0000000001_S00000 at beam 1
    assert drop_echo(looped, PROMPT) == "我们在说,我们上次上和歌"
    assert drop_echo("三亚、三亚、三亚、三亚、三亚、三亚", PROMPT) == "三亚"


@pytest.mark.parametrize("text", ["谢谢谢谢", "谢谢，谢谢，谢谢", "好好好", "13111111111", "一一一一一一一",
                                  "以下是我的问题"])
def test_the_echo_guard_leaves_real_speech(text):
    assert drop_echo(text, PROMPT) == text
