"""The correction pass every final transcript goes through, whatever the engine (``clean``).

What it does, in order, and only where the text leaves no doubt:

1. simplified characters (OpenCC ``t2s``): Whisper sometimes answers in traditional ones;
2. no spaces between Chinese characters (a Chinese Vosk model separates words with them), so
   ``海口 市`` is found by the prefill like ``海口市``;
3. numbers as the prefill reads them: a phone number spoken digit by digit (幺 = 1, 洞 = 0, 两 = 2) or
   written by the model in groups (``138 8907 9702``) becomes one run of digits, and a year read
   digit by digit before 年 (二零二四年) becomes 2024年, a month with its day (三月五号) 3月5号;
4. near-miss names of places (the gazetteer: cities, counties, districts, towns) and of handling units
   (the topics' units) are snapped to the right characters when they sound the same: ``海扣市`` → 海口市,
   ``水污局`` → 水务局. A name is snapped only when its last character (市 县 区 镇 局 厅 …) is heard
   exactly, at least one other character is right, and the rest have the same pinyin as read in context
   (tones ignored); for names of four characters or more with half of them right, zh/z, ch/c, sh/s, l/n
   and -ng/-n count as the same too (Hainan callers' and the model's confusions). Names heard right, and
   other departments' names (税务局 is no near miss of 水务局), are never overlapped by a correction. Short
   names without such an ending (海口, 昌江) are never snapped: too many words sound like them (长江).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from hotline.reference import gazetteer, topics

_SPOKEN_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
                  "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_NOT_NUMBER = "[0-9零〇洞一幺二两三四五六七八九十百千万点.]"
# A number spoken digit by digit (一三八…, 幺 = 1, 洞 = 0, 两 = 2) is a phone number when it has 7 to 12
# digits. Not part of a larger number, not a decimal, not mixed with written digits (GB50016一2014).
_SPOKEN_RUN = re.compile(rf"(?<!{_NOT_NUMBER})[零〇洞一幺二两三四五六七八九]{{7,12}}(?!{_NOT_NUMBER})")
# Digits the model wrote in groups (138 8907 9702, 138-8907-9702): joined only when they make a mobile
# number, or a landline with its area code split by spaces; dates (2019-06-28), standards (GB 179-2012) and
# an area code with its hyphen (0898-66668888) stay as they are.
_GROUPS = re.compile(r"(?<![\d.-])\d{2,4}(?:[ -]\d{2,4}){1,3}(?![\d.-])")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{9,11}")
_YEAR = re.compile(r"(?<![0-9零〇一二三四五六七八九十])([零〇一二三四五六七八九]{4})年")
_SMALL = "[一二三四五六七八九十]{1,3}"
_MONTH_DAY = re.compile(rf"(?<![一二三四五六七八九十])({_SMALL})月({_SMALL})([日号])")
_HAN = r"[\u3400-\u9fff]"
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_HAN})\s+(?={_HAN})")

_ENDINGS = "市县区镇乡局厅委会室司办处所站"


@lru_cache(maxsize=1)
def _converter():  # type: ignore[no-untyped-def]  # opencc ships no type hints
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified characters (OpenCC's phrase-aware table), nothing else."""
    return str(_converter().convert(text)) if text else text


def _small_number(spoken: str) -> str | None:
    """一 … 三十一 → "1" … "31"; None for what is no day or month (十十, 四十五)."""
    values = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    tens, ten, units = spoken.rpartition("十")
    if not ten:
        value = values.get(spoken)
    elif tens and tens not in values or units and units not in values:
        value = None
    else:
        value = values.get(tens, 1) * 10 + values.get(units, 0)
    return str(value) if value and value <= 31 else None


def _month_day(match: re.Match[str]) -> str:
    month, day = _small_number(match.group(1)), _small_number(match.group(2))
    if month is None or day is None or int(month) > 12:
        return match.group()
    return f"{month}月{day}{match.group(3)}"


def normalise_numbers(text: str) -> str:
    """Phone numbers as one run of Arabic digits; dates in Arabic digits (二零二四年三月五号 → 2024年3月5号)."""
    def spoken(match: re.Match[str]) -> str:
        return "".join(_SPOKEN_DIGITS.get(c, c) for c in match.group())

    def groups(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group())
        if _MOBILE.fullmatch(digits) or (_LANDLINE.fullmatch(digits) and "-" not in match.group()):
            return digits
        return match.group()

    text = _GROUPS.sub(groups, _SPOKEN_RUN.sub(spoken, text))
    text = _YEAR.sub(lambda m: "".join(_SPOKEN_DIGITS[c] for c in m.group(1)) + "年", text)
    return _MONTH_DAY.sub(_month_day, text)


# ── near-miss names ──────────────────────────────────────────────────────────────────────────────────────

_FUZZY = (("zh", "z"), ("ch", "c"), ("sh", "s"))


def _fuzzy(syllable: str) -> str:
    for long, short in _FUZZY:
        if syllable.startswith(long):
            syllable = short + syllable[len(long):]
            break
    if syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    if syllable.endswith("ng") and len(syllable) > 2:
        syllable = syllable[:-1]
    return syllable


def _pinyin(text: str) -> list[str]:
    """One toneless reading per character, read in context (长流镇: chang; 一个: ge, not gan); other
    characters stand for themselves."""
    from pypinyin import lazy_pinyin

    # pypinyin documents that ``errors`` may return a list (one item per character); its hints say str.
    return list(lazy_pinyin(text, errors=lambda chars: list(chars)))  # type: ignore[arg-type, return-value]


def _place_names() -> Iterable[str]:
    for city in gazetteer():
        yield city["name"]
        yield from city.get("aliases", [])
        yield from city.get("districts", [])
        yield from city.get("towns", [])


def _unit_names() -> Iterable[str]:
    """The topics' handling units without their city (水务局) and, for provincial ones, the unit itself and
    its last part (国家税务总局海南省税务局 → 税务局), so a unit named without its place is known too."""
    for topic in topics():
        for unit in (topic["unit"], topic["province_unit"]):
            unit = unit.replace("{city}", "")
            yield unit
            yield re.split(r"[省市县]|总局", unit)[-1]


# Departments callers name that no topic suggests: known words, so never "corrected" into one that sounds
# alike (税务局 is not a near-miss of 水务局).
_OTHER_UNITS = ("税务局", "财政局", "审计局", "统计局", "司法局", "商务局", "林业局", "水利局", "信访局", "城管局",
                "应急管理局", "文化广电旅游局", "旅游局", "人社局", "住建局", "卫健委", "供电局", "气象局",
                "退役军人事务局", "医疗保障局", "派出所", "交警大队", "居委会", "村委会", "管委会", "街道办")


@lru_cache(maxsize=1)
def vocabulary() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The names the pass snaps to, longest first, with their pinyin: names of three or more characters
    that end in a place or unit ending (海口市, 嘉积镇, 水务局)."""
    names = {n for n in (*_place_names(), *_unit_names()) if len(n) >= 3 and n[-1] in _ENDINGS}
    return tuple((n, tuple(_pinyin(n))) for n in sorted(names, key=lambda n: (-len(n), n)))


@lru_cache(maxsize=1)
def _by_length_and_ending() -> dict[tuple[int, str], tuple[tuple[str, tuple[str, ...]], ...]]:
    index: dict[tuple[int, str], list[tuple[str, tuple[str, ...]]]] = {}
    for name, syllables in vocabulary():
        index.setdefault((len(name), name[-1]), []).append((name, syllables))
    return {key: tuple(names) for key, names in index.items()}


@lru_cache(maxsize=1)
def _known_names() -> tuple[str, ...]:
    return tuple(sorted({n for n, _ in vocabulary()} | set(_OTHER_UNITS), key=len, reverse=True))


def _sounds_like(heard: str, heard_pinyin: list[str], name: str, syllables: tuple[str, ...]) -> bool:
    """``heard`` is a near miss of ``name``: same last character; every other one the same character or
    the same syllable (tones ignored); at least one the same character; for a name of four characters or
    more (五指山市, 综合行政执法局) a syllable may also differ by zh/z, ch/c, sh/s, l/n or -ng/-n, when at
    least half of its characters are right."""
    if heard[-1] != name[-1] or heard == name:
        return False
    core = len(name) - 1
    same = sum(a == b for a, b in zip(heard[:-1], name[:-1]))
    loose = core >= 3
    if same == 0 or (loose and 2 * same < core):
        return False
    for a, b, pa, pb in zip(heard[:-1], name[:-1], heard_pinyin, syllables):
        if a != b and pa != pb and not (loose and _fuzzy(pa) == _fuzzy(pb)):
            return False
    return True


def snap_names(text: str) -> str:
    """Replace near-miss place and unit names with the gazetteer's and the topics' spelling; names heard
    right (and other departments' names) are kept and never overlapped by a correction."""
    kept = [False] * len(text)
    for known in _known_names():
        for match in re.finditer(re.escape(known), text):
            if not any(kept[match.start():match.end()]):
                kept[match.start():match.end()] = [True] * len(known)
    readings = _pinyin(text)
    by_ending = _by_length_and_ending()
    out: list[str] = []
    i = 0
    while i < len(text):
        for length in sorted({n for n, _ in by_ending}, reverse=True):
            end = i + length
            if end > len(text) or any(kept[i:end]):
                continue
            found = next((name for name, syllables in by_ending.get((length, text[end - 1]), ())
                          if _sounds_like(text[i:end], readings[i:end], name, syllables)), None)
            if found:
                out.append(found)
                i = end
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def clean(text: str) -> str:
    """The final transcript as every consumer should get it (see the module's docstring)."""
    text = _SPACE_BETWEEN_HAN.sub("", to_simplified(text)).strip()
    return snap_names(normalise_numbers(text))


def warm_up() -> None:
    """Load the conversion table, the pinyin dictionary and the vocabulary (a few hundred ms) at engine load."""
    clean("海口市 水务局 一三八八九零七九七零二")
