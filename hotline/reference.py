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
