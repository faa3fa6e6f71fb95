"""Recorded AMI events of the real center for the wallboard's tests and benchmark (see the JSON's comment)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from hotline.ami import AmiEvent

RECORDED = Path(__file__).with_name("wallboard_events.json")


def to_event(item: dict) -> AmiEvent:
    return AmiEvent(item["name"], MappingProxyType(dict(item["fields"])), 0.0,
                    MappingProxyType(dict(item["vars"])), MappingProxyType(dict(item["dest_vars"])))


@lru_cache(maxsize=1)
def _raw() -> dict:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


def recorded(part: str = "events") -> list[AmiEvent]:
    """``events`` (the stream), ``status_*`` (QueueStatus answers) or ``channels_*`` (CoreShowChannels)."""
    return [to_event(item) for item in _raw()[part]]


def stamp(event: AmiEvent) -> float:
    return float(event.get("Timestamp"))
