"""A thin AMI client over panoramisk: raw messages become frozen ``AmiEvent`` values at the edge.

Used by the tests and benchmarks to drive Asterisk and observe it; the desk's event listener builds on it.
"""

from __future__ import annotations

from typing import Any

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from collections.abc import Callable, Mapping

from panoramisk import Manager


@dataclass(frozen=True)
class AmiEvent:
    name: str
    fields: Mapping[str, str]
    received: float = field(default_factory=time.monotonic)
    # manager.conf ``channelvars``: the HOTLINE_* variables of the event's channel and of its peer (Dest...)
    vars: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    dest_vars: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.fields[key]


# An AMI action: header → value; a list repeats the header (e.g. one ``Variable:`` line per variable).
Action = Mapping[str, str | list[str]]

_VAR_HEADERS = {"ChanVariable": "vars", "DestChanVariable": "dest_vars"}


def to_event(message: Any) -> AmiEvent:
    data: dict[str, str] = {}
    chanvars: dict[str, dict[str, str]] = {"vars": {}, "dest_vars": {}}
    for key, value in dict(message).items():
        key = str(key)
        if key in _VAR_HEADERS:  # repeated header: "NAME=value" once per variable
            for item in value if isinstance(value, list) else [value]:
                name, _, val = str(item).partition("=")
                chanvars[_VAR_HEADERS[key]][name] = val
        else:
            data[key] = str(value)
    return AmiEvent(name=data.get("Event", ""), fields=MappingProxyType(data),
                    vars=MappingProxyType(chanvars["vars"]), dest_vars=MappingProxyType(chanvars["dest_vars"]))


class EventBuffer:
    """Keeps the AMI events it is given (subscribe it to an ``AmiClient``) and waits for one with a deadline.

    ``wait`` looks at what has arrived since position ``since``, then at what arrives next: an event that
    an action causes is never missed because it came before the wait began.
    """

    def __init__(self) -> None:
        self.events: list[AmiEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: AmiEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def mark(self) -> int:
        """Where the buffer stands now: pass it as ``since`` to wait only for what comes after."""
        return len(self.events)

    async def wait(self, predicate: Callable[[AmiEvent], bool], timeout: float, since: int = 0) -> AmiEvent | None:
        """The first matching event at or after ``since``, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


class AmiError(RuntimeError):
    pass


class AmiClient:
    def __init__(self, host: str, port: int, username: str, secret: str):
        self.manager = Manager(
            host=host, port=port, username=username, secret=secret,
            ping_delay=30, ping_interval=30, reconnect_timeout=1, events="on",
            loop=asyncio.get_running_loop(),
        )
        self._subscribers: list[Callable[[AmiEvent], None]] = []
        self.manager.register_event("*", self._dispatch)

    def _dispatch(self, _manager: Any, message: Any) -> None:
        event = to_event(message)
        for subscriber in list(self._subscribers):
            subscriber(event)

    def subscribe(self, callback: Callable[[AmiEvent], None]) -> None:
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[AmiEvent], None]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(callback)

    async def connect(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.manager.connect(), timeout)
        deadline = time.monotonic() + timeout
        while not self.manager.authenticated:
            if time.monotonic() > deadline:
                raise AmiError("AMI login did not succeed")
            await asyncio.sleep(0.05)

    async def action(self, action: Action, timeout: float = 10.0) -> dict[str, str]:
        # as_list=False: one response per action. (Without it panoramisk guesses from the reply text and
        # crashes on "DTMF successfully queued".)
        response = await asyncio.wait_for(self.manager.send_action(action, as_list=False), timeout)
        if isinstance(response, list):
            response = response[0]
        result = {str(k): str(v) for k, v in dict(response).items()}
        if result.get("Response") == "Error":
            raise AmiError(f"{action.get('Action')}: {result.get('Message')}")
        return result

    async def action_list(self, action: Action, timeout: float = 10.0, *, errors: bool = False) -> list[AmiEvent]:
        """An action answered by a list of events (PJSIPShowContacts, QueueStatus, ...): those events, without
        the closing ...Complete one. An error reply such as "No Contacts found" is an empty list, or with
        ``errors`` an ``AmiError`` (where an empty list would be taken for the truth: nobody waiting)."""
        action_id = f"list-{uuid.uuid4().hex}"
        done = asyncio.get_running_loop().create_future()
        events: list[AmiEvent] = []

        def collect(event: AmiEvent) -> None:
            if event.get("ActionID") != action_id:
                return
            if event.name.endswith("Complete"):
                if not done.done():
                    done.set_result(None)
            else:
                events.append(event)

        self.subscribe(collect)
        try:
            response = await asyncio.wait_for(
                self.manager.send_action({**action, "ActionID": action_id}, as_list=False), timeout)
            if isinstance(response, list):
                response = response[0]
            if str(dict(response).get("Response")) == "Error":
                if errors:
                    raise AmiError(f"{action.get('Action')}: {dict(response).get('Message')}")
                return []
            await asyncio.wait_for(done, timeout)
            return events
        finally:
            self.unsubscribe(collect)

    async def originate(self, channel: str, *, caller_id: str, channel_id: str, application: str = "Wait",
                        data: str = "60", variables: Mapping[str, str] | None = None,
                        timeout_ms: int = 30000) -> dict[str, str]:
        """Originate ``channel`` asynchronously; the Local/ half that runs the dialplan gets ``channel_id``-2."""
        action = {
            "Action": "Originate",
            "Channel": channel,
            "Application": application,
            "Data": data,
            "CallerID": caller_id,
            "Async": "true",
            "Timeout": str(timeout_ms),
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id}-2",
        }
        if variables:
            action["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        return await self.action(action)

    async def hangup(self, channel: str) -> None:
        await self.action({"Action": "Hangup", "Channel": channel})

    def close(self) -> None:
        self.manager.close()
