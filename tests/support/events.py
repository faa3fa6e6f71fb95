"""Collect AMI events and wait for the ones a scenario expects, with a deadline (never sleep-and-hope)."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from hotline.ami import AmiEvent


class EventLog:
    def __init__(self) -> None:
        self.events: list[AmiEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: AmiEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of_call(self, linkedid: str) -> list[AmiEvent]:
        return [e for e in self.events if e.get("Linkedid") == linkedid or e.get("Uniqueid", "").startswith(linkedid)]

    def find(self, predicate: Callable[[AmiEvent], bool]) -> list[AmiEvent]:
        return [e for e in self.events if predicate(e)]

    def mark(self) -> int:
        """Where the log stands now: pass it as ``since`` to wait only for what comes after."""
        return len(self.events)

    async def wait_for(self, predicate: Callable[[AmiEvent], bool], timeout: float, what: str,
                       since: int = 0) -> AmiEvent:
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass


def var_set(name: str, value: str | None = None, linkedid: str | None = None) -> Callable[[AmiEvent], bool]:
    def match(e: AmiEvent) -> bool:
        return (
            e.name == "VarSet"
            and e.get("Variable").lstrip("_") == name
            and (value is None or e.get("Value") == value)
            and (linkedid is None or e.get("Linkedid") == linkedid)
        )
    return match


def app_ran(app: str, data_contains: str = "", linkedid: str | None = None) -> Callable[[AmiEvent], bool]:
    def match(e: AmiEvent) -> bool:
        return (
            e.name == "Newexten"
            and e.get("Application") == app
            and data_contains in e.get("AppData")
            and (linkedid is None or e.get("Linkedid") == linkedid)
        )
    return match


def named(name: str, linkedid: str | None = None, **fields: str) -> Callable[[AmiEvent], bool]:
    def match(e: AmiEvent) -> bool:
        return (
            e.name == name
            and (linkedid is None or e.get("Linkedid") == linkedid)
            and all(e.get(k) == v for k, v in fields.items())
        )
    return match
