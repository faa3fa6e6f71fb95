"""A thin AMI client over panoramisk: raw messages become frozen ``AmiEvent`` values at the edge.

Used by the tests and benchmarks to drive Asterisk and observe it; the desk's event listener builds on it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from panoramisk import Manager


@dataclass(frozen=True)
class AmiEvent:
    name: str
    fields: Mapping[str, str]
    received: float = field(default_factory=time.monotonic)

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.fields[key]


def to_event(message) -> AmiEvent:
    data = {str(k): str(v) for k, v in dict(message).items()}
    return AmiEvent(name=data.get("Event", ""), fields=MappingProxyType(data))


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

    def _dispatch(self, _manager, message) -> None:
        event = to_event(message)
        for subscriber in list(self._subscribers):
            subscriber(event)

    def subscribe(self, callback: Callable[[AmiEvent], None]) -> None:
        self._subscribers.append(callback)

    async def connect(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.manager.connect(), timeout)
        deadline = time.monotonic() + timeout
        while not self.manager.authenticated:
            if time.monotonic() > deadline:
                raise AmiError("AMI login did not succeed")
            await asyncio.sleep(0.05)

    async def action(self, action: dict, timeout: float = 10.0) -> dict:
        # as_list=False: one response per action. (Without it panoramisk guesses from the reply text and
        # crashes on "DTMF successfully queued".)
        response = await asyncio.wait_for(self.manager.send_action(action, as_list=False), timeout)
        if isinstance(response, list):
            response = response[0]
        result = {str(k): str(v) for k, v in dict(response).items()}
        if result.get("Response") == "Error":
            raise AmiError(f"{action.get('Action')}: {result.get('Message')}")
        return result

    async def originate(self, channel: str, *, caller_id: str, channel_id: str, application: str = "Wait",
                        data: str = "60", variables: Mapping[str, str] | None = None, timeout_ms: int = 30000) -> dict:
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
