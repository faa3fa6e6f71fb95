"""The small typed channel interface IVR logic is written against.

FastAGI (panoramisk) and classic AGI (pyst2) both implement it, so one flow runs over either
transport; unit tests use an in-memory fake that raises on anything it was not told to expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ChannelHangup(Exception):
    """The caller hung up (or the channel went away) while the IVR was talking to it."""


class ChannelError(Exception):
    """Asterisk refused a command (bad syntax, unknown application, ...)."""


class Channel(Protocol):
    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set."""

    async def get_variables(self, names: Sequence[str]) -> dict[str, str]:
        """Several variables at once ("" where one is not set): one round trip where the transport allows."""

    async def set_variable(self, name: str, value: str) -> None: ...

    async def answer(self) -> None: ...

    async def play(self, sound: str, escape_digits: str = "") -> str:
        """Play a sound file (path without extension); return the digit that interrupted it, or ""."""

    async def collect_digits(self, prompt: str, max_digits: int, timeout_ms: int) -> str:
        """Play ``prompt`` and read up to ``max_digits`` DTMF digits; "" on timeout."""

    async def exec(self, application: str, arguments: str) -> int:
        """Run a dialplan application on the channel; its return code (-1: it failed or the caller left)."""

    async def verbose(self, message: str, level: int = 1) -> None: ...

    async def hangup(self) -> None: ...


async def still_up(channel: Channel) -> bool:
    """Whether the channel is still up: an application that answered -1 may have failed, or the caller left."""
    try:
        return await channel.get_variable("CHANNEL(state)") == "Up"
    except ChannelHangup:
        return False
