"""Collect AMI events and wait for the ones a scenario expects, with a deadline (never sleep-and-hope)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hotline.ami import AmiEvent, EventBuffer


class EventLog(EventBuffer):
    """Every AMI event of a test session; ``wait_for`` fails the test with what it was waiting for."""

    def of_call(self, linkedid: str) -> list[AmiEvent]:
        return [e for e in self.events if e.get("Linkedid") == linkedid or e.get("Uniqueid", "").startswith(linkedid)]

    def find(self, predicate: Callable[[AmiEvent], bool]) -> list[AmiEvent]:
        return [e for e in self.events if predicate(e)]

    async def wait_for(self, predicate: Callable[[AmiEvent], bool], timeout: float, what: str,
                       since: int = 0) -> AmiEvent:
        event = await self.wait(predicate, timeout, since)
        if event is None:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        return event


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


async def poll(check: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    """``check()`` (quick, in the event loop) until it returns something true; that value, or the test fails
    saying what it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        await asyncio.sleep(every)


def most_outbound_at_once(events: list[AmiEvent]) -> int:
    """The most calls out over the carrier at one time, from a center's AMI events: the halves of
    ``Local/s@hotline-outbound`` that dial the citizen (``;2``), counted from their Newchannel to their Hangup."""
    live: set[str] = set()
    most = 0
    for e in events:
        name = e.get("Channel")
        if not name.startswith("Local/s@hotline-outbound-") or not name.endswith(";2"):
            continue
        if e.name == "Newchannel":
            live.add(name)
            most = max(most, len(live))
        elif e.name == "Hangup":
            live.discard(name)
    return most
