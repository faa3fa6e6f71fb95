"""The prefill (工单预填): what the caller said, turned into the draft the agent sees when the call arrives.

Pure functions over the transcript: appeal type, places from the Hainan gazetteer, phone numbers and
dates mentioned, a suggested topic and handling unit, and emergency words. The agent decides; these
only save typing and flag what needs attention.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from dataclasses import asdict, dataclass


from hotline.contracts.prefill import Prefill
from hotline.reference import gazetteer, topics
from hotline.vocab import AppealType

__all__ = ["Prefill", "Place", "AppealType", "enrich", "gazetteer", "topics"]


_APPEAL_WORDS = [
    (AppealType.COMPLAINT, ("投诉", "举报", "反映", "曝光", "不作为", "乱收费")),
    (AppealType.HELP, ("求助", "帮帮", "帮忙", "救助", "困难")),
    (AppealType.SUGGESTION, ("建议", "希望政府", "应该增加", "提议")),
    (AppealType.OTHER, ("表扬", "感谢", "锦旗")),
    (AppealType.CONSULTATION, ("咨询", "请问", "怎么办理", "如何", "能不能", "是否", "需要什么", "什么时候")),
]

# 紧急联动: words that mean the matter belongs to 110/119/120/122, not 12345.
# Phrases in EMERGENCY_EXCEPT (e.g. reporting a fire *hazard*) are ordinary 12345 matters.
EMERGENCY_WORDS = {
    "119": ("着火", "起火", "失火", "火灾", "冒烟", "烧起来", "爆炸"),
    "120": ("受伤", "流血", "晕倒", "昏迷", "心脏病", "急救", "救护车", "不省人事", "中毒"),
    "110": ("抢劫", "打人", "杀人", "持刀", "绑架", "家暴", "正在偷", "小偷"),
    "122": ("车祸", "撞车", "交通事故", "追尾", "被车撞", "翻车"),
}
EMERGENCY_EXCEPT = ("隐患", "以前", "去年", "上个月", "已经处理")

_CN_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
              "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8})(?!\d)")
_CN_RUN = re.compile(r"[零〇洞一幺二两三四五六七八九]{7,12}")
_DATE_ABS = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]")
_CN_NUM = re.compile(r"[一二三四五六七八九十]{1,3}(?=[月日号])")
_RELATIVE = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "大前天": -3}


@dataclass(frozen=True)
class Place:
    name: str
    level: str  # city | district | town
    city_code: str
    city: str


def _cn_to_digits(run: str) -> str:
    return "".join(_CN_DIGITS[c] for c in run)


def _cn_small_number(text: str) -> str:
    """一..三十一 → 1..31 (enough for months and days)."""
    values = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    if text == "十":
        return "10"
    if "十" in text:
        tens, _, units = text.partition("十")
        return str((values.get(tens, 1)) * 10 + values.get(units, 0))
    return str(values.get(text, 0))


def find_places(text: str) -> list[Place]:
    found: list[Place] = []
    for city in gazetteer():
        names = [(city["name"], "city"), *[(a, "city") for a in city.get("aliases", [])],
                 *[(d, "district") for d in city.get("districts", [])], *[(t, "town") for t in city.get("towns", [])]]
        seen_levels = set()
        for name, level in names:
            if name in text and (name, level) not in seen_levels:
                if level == "city" and any(p.city_code == city["code"] and p.level == "city" for p in found):
                    continue
                found.append(Place(name=name, level=level, city_code=city["code"], city=city["name"]))
                seen_levels.add((name, level))
    return found


def find_phones(text: str) -> list[str]:
    phones = [m.group(1).replace("-", "") for m in _PHONE.finditer(text)]
    phones += [_cn_to_digits(m.group()) for m in _CN_RUN.finditer(text)]
    return list(dict.fromkeys(p for p in phones if len(p) >= 7))


def find_dates(text: str, today: dt.date) -> list[str]:
    normalised = _CN_NUM.sub(lambda m: _cn_small_number(m.group()), text)
    dates = []
    for m in _DATE_ABS.finditer(normalised):
        year = int(m.group(1)) if m.group(1) else today.year
        try:
            dates.append(dt.date(year, int(m.group(2)), int(m.group(3))).isoformat())
        except ValueError:
            continue
    for word, offset in sorted(_RELATIVE.items(), key=lambda kv: -len(kv[0])):
        if word in text:
            dates.append((today + dt.timedelta(days=offset)).isoformat())
            text = text.replace(word, "")
    return list(dict.fromkeys(dates))


def appeal_type_of(text: str) -> str:
    for appeal, words in _APPEAL_WORDS:
        if any(w in text for w in words):
            return appeal
    return ""


def emergency_of(text: str) -> str:
    """The emergency number the words point to, or "" (a fire *hazard* report is not an emergency)."""
    if any(w in text for w in EMERGENCY_EXCEPT):
        return ""
    for number, words in EMERGENCY_WORDS.items():
        if any(w in text for w in words):
            return number
    return ""


def suggest_topic(text: str, city: str | None) -> tuple[dict[str, Any] | None, str]:
    best, best_hits = None, 0
    for topic in topics():
        hits = sum(1 for w in topic["keywords"] if w in text)
        if hits > best_hits:
            best, best_hits = topic, hits
    if best is None:
        return None, ""
    unit = best["unit"].format(city=city) if city and "{city}" in best["unit"] else best["province_unit"]
    return {"code": best["code"], "class": best["class"], "name": best["name"]}, unit


def enrich(prefill: Prefill, transcript: str, today: dt.date | None = None) -> Prefill:
    """Fill the prefill's derived fields from the transcript (the menu choice wins over words)."""
    today = today or dt.date.today()
    prefill.transcript = transcript
    places = find_places(transcript)
    prefill.places = [asdict(p) for p in places]
    prefill.phones = find_phones(transcript)
    prefill.dates = find_dates(transcript, today)
    if not prefill.appeal_type:
        prefill.appeal_type = appeal_type_of(transcript)
    prefill.emergency = emergency_of(transcript)
    city = next((p.city for p in places), None)
    if city is None and prefill.subplatform:
        city = next((c["name"] for c in gazetteer() if c["code"] == prefill.subplatform), None)
    if not prefill.subplatform and places:
        prefill.subplatform = places[0].city_code
    prefill.topic, prefill.suggested_unit = suggest_topic(transcript, city)
    return prefill


def city_from_speech(text: str) -> str:
    """Division code of the city/county named in a short utterance, or ""."""
    places = [p for p in find_places(text) if p.level == "city"] or find_places(text)
    return places[0].city_code if places else ""
