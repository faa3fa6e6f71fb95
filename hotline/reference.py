"""Reference data every part of the center reads: the province's places (gazetteer) and the appeal topics with
their suggested handling units (the dispatch catalogue's defaults). Files in ``hotline/data/``; the desk loads
them into its tables at install (``agent_desk.seed``), the IVR reads them for the prefill."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).with_name("data")
GAZETTEER = DATA / "gazetteer.yaml"
TOPICS = DATA / "topics.yaml"
CALLER_AREAS = DATA / "caller_areas.yaml"


@lru_cache(maxsize=1)
def gazetteer() -> list[dict[str, Any]]:
    """Cities/counties with their districts and towns (海南省)."""
    cities: list[dict[str, Any]] = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))["cities"]
    return cities


@lru_cache(maxsize=1)
def topics() -> list[dict[str, Any]]:
    """Appeal topics: code, name, keywords, the suggested unit (``{city}`` filled per city), the province's unit."""
    entries: list[dict[str, Any]] = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))["topics"]
    return entries


def topic_names() -> dict[str, str]:
    return {t["code"]: t["name"] for t in topics()}


@lru_cache(maxsize=1)
def caller_areas() -> dict[str, Any]:
    """The province's area code and local exchange prefixes → sub-platform code (``caller_areas.yaml``)."""
    areas: dict[str, Any] = yaml.safe_load(CALLER_AREAS.read_text(encoding="utf-8"))
    return areas


def subplatform_of_number(number: str) -> str:
    """The sub-platform a caller's number belongs to, or "" (a mobile, another province, an unknown exchange)."""
    areas = caller_areas()
    digits = "".join(ch for ch in number if ch.isdigit())
    for country in ("0086", "86"):
        if number.lstrip().startswith(("+", "00")) and digits.startswith(country):
            digits = digits[len(country):]
            break
    area = str(areas["local_area_code"])
    local_digits = int(areas["local_digits"])
    if digits.startswith(area) and len(digits) == len(area) + local_digits:
        digits = digits[len(area):]
    elif digits.startswith(area.lstrip("0")) and len(digits) == len(area) - 1 + local_digits:
        digits = digits[len(area) - 1:]   # +86 898 xxxxxxxx: the trunk prefix 0 is dropped after the country code
    elif len(digits) != local_digits or digits.startswith(("0", "1")):
        return ""   # another area code, a mobile number, a service number
    prefixes: dict[str, str] = {str(k): str(v) for k, v in areas["prefixes"].items()}
    for length in range(len(digits), 0, -1):
        code = prefixes.get(digits[:length])
        if code:
            return code
    return ""
