"""Character error rate of a Chinese transcript against its reference (punctuation and spaces ignored)."""

from __future__ import annotations

import re

_DROP = re.compile(r"[\s，。、？！,.?!；;：:“”\"'（）()《》…-]")


_DIGITS = "零一二三四五六七八九"
_UNITS = ["", "十", "百", "千"]


def _chinese_number(number: str) -> str:
    """Arabic numerals as read in Chinese (29 → 二十九), so "29" and "二十九" compare equal."""
    if len(number) > 4 or number.startswith("0"):
        return "".join(_DIGITS[int(d)] for d in number)
    out, zero = "", False
    for i, d in enumerate(number):
        place = len(number) - 1 - i
        if d == "0":
            zero = True
            continue
        if zero and out:
            out += "零"
        zero = False
        out += ("" if (d == "1" and place == 1 and i == 0) else _DIGITS[int(d)]) + _UNITS[place]
    return out or "零"


def _digit_by_digit(number: str) -> str:
    return "".join(_DIGITS[int(d)] for d in number)


def _read_numerals(text: str) -> str:
    """Arabic numerals as a reader says them: a year digit by digit (1990年 = 一九九零年), a decimal with 点
    (3.30 = 三点三零), a percentage (80% = 百分之八十), any other number as a cardinal (29 = 二十九)."""
    text = re.sub(r"(\d+)\.(\d+)", lambda m: _chinese_number(m.group(1)) + "点" + _digit_by_digit(m.group(2)), text)
    text = re.sub(r"(\d+)%", lambda m: "百分之" + _chinese_number(m.group(1)), text)
    text = re.sub(r"(?<!\d)(\d{4})(?=年)", lambda m: _digit_by_digit(m.group(1)), text)
    return re.sub(r"\d+", lambda m: _chinese_number(m.group()), text)


def normalise(text: str) -> str:
    return _DROP.sub("", _read_numerals(text))


def cer(hypothesis: str, reference: str) -> float:
    hyp, ref = normalise(hypothesis), normalise(reference)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
