"""``ivr.channel.Channel`` over AGI, with two transports: FastAGI (panoramisk) and classic AGI (pyst2).

Both speak the same AGI commands; only how a command line reaches Asterisk and how its reply comes back
differ. ``AgiChannel`` holds the commands once; the transports implement ``command``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ivr.channel import Channel, ChannelError, ChannelHangup


MSET_SAFE = re.compile(r'[A-Za-z0-9_]+=[^,"\\\n()]*')   # name=value that MSet sets exactly as written
FINISH_TIMEOUT = 5.0   # seconds to read the replies to a route's last commands (Asterisk has moved on by then)
SEPARATOR = "|"   # between the values of one get_variables: the dialplan's tags (codes, numbers, ids) never hold it


def quote(value: str) -> str:
    """Quote an AGI command argument (spaces, quotes and backslashes survive)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AgiChannel:
    async def command(self, command: str) -> dict[str, Any]:
        """Send one AGI command; return {"result": (value, data)}; raise ChannelHangup / ChannelError."""
        raise NotImplementedError

    async def get_variable(self, name: str) -> str | None:
        result = await self.command(f"GET VARIABLE {name}")
        value, data = result.get("result", ("0", ""))
        return data if value == "1" else None

    async def get_variables(self, names: Sequence[str]) -> dict[str, str]:
        """Several variables in one round trip: ``GET FULL VARIABLE`` of all of them, joined by ``|``.

        The entry route reads five on every call, and under load each round trip is a scheduling delay (BENCHMARKS,
        "AGI under load"). A value holding the separator itself falls back to one ``GET VARIABLE`` each."""
        expression = SEPARATOR.join("${" + name + "}" for name in names)
        result = await self.command(f"GET FULL VARIABLE {quote(expression)}")
        value, data = result.get("result", ("0", ""))
        parts = data.split(SEPARATOR) if value == "1" else []
        if len(parts) == len(names):
            return dict(zip(names, parts))
        return {name: await self.get_variable(name) or "" for name in names}

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """Several variables in one round trip: ``EXEC MSet(name=value,...)`` (``__`` inheritance as with Set).

        MSet splits on commas and takes each value up to the next one, so a value holding a comma, a quote or a
        backslash (never one of the dialplan's tags, which are codes, numbers and ids) goes by ``SET VARIABLE``
        each instead. One variable is one ``SET VARIABLE`` anyway."""
        for command in set_commands(values):
            await self.command(command)

    async def finish(self, values: Mapping[str, str]) -> None:
        """The route's last word: ``values`` set, then the script is done. Here it waits for each reply like
        any command; over FastAGI the commands go with the end of the conversation (``FastAgiChannel``)."""
        await self.set_variables(values)

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def play(self, sound: str, escape_digits: str = "") -> str:
        result = await self.command(f"STREAM FILE {sound} {quote(escape_digits)}")
        code = int(result.get("result", ("0", ""))[0] or 0)
        return chr(code) if code > 0 else ""

    async def collect_digits(self, prompt: str, max_digits: int, timeout_ms: int) -> str:
        result = await self.command(f"GET DATA {prompt} {timeout_ms} {max_digits}")
        value, _data = result.get("result", ("", ""))
        return value if value and set(value) <= set("0123456789*#") else ""

    async def exec(self, application: str, arguments: str) -> int:
        result = await self.command(f"EXEC {application} {quote(arguments)}")
        return int(result.get("result", ("0", ""))[0] or 0)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(f"VERBOSE {quote(message)} {level}")

    async def hangup(self) -> None:
        await self.command("HANGUP")


def set_commands(values: Mapping[str, str]) -> list[str]:
    """The AGI commands that set ``values``: one ``EXEC MSet`` when it can carry them all, else one ``SET VARIABLE``
    each."""
    if len(values) > 1 and all(MSET_SAFE.fullmatch(f"{k}={val}") for k, val in values.items()):
        return [f"EXEC MSet {quote(','.join(f'{k}={val}' for k, val in values.items()))}"]
    return [f"SET VARIABLE {name} {quote(value)}" for name, value in values.items()]


async def set_variables(channel: Channel, values: Mapping[str, str], *, last: bool = False) -> None:
    """``values`` on ``channel``: in one round trip over AGI, one by one on any other channel (tests' fakes).
    ``last``: nothing follows on this AGI conversation (``AgiChannel.finish``)."""
    if isinstance(channel, AgiChannel):
        await (channel.finish(values) if last else channel.set_variables(values))
        return
    for name, value in values.items():
        await channel.set_variable(name, value)


class FastAgiChannel(AgiChannel):
    """Over a FastAGI socket (panoramisk's request object)."""

    def __init__(self, request: Any):   # panoramisk.fast_agi.Request (untyped)
        self.request = request
        self.finished_at: float | None = None   # perf_counter when ``finish`` had sent its last command

    async def command(self, command: str) -> dict[str, Any]:
        try:
            result = await self.request.send_command(command)
        except (ConnectionError, ValueError) as exc:
            # ValueError: the socket closed mid-reply and panoramisk parsed an empty line.
            raise ChannelHangup(f"{command}: connection lost ({exc})") from exc
        error = result.get("error")
        if error == "AGIResultHangup" or result.get("status_code") == 511:
            raise ChannelHangup(command)
        if error in ("AGIInvalidCommand", "AGIUsageError", "AGIDeadChannelError", "AGIUnknownError"):
            raise ChannelError(f"{command}: {error} {result.get('msg', '')}".strip())
        if error == "AGIAppError":
            raise ChannelHangup(command)
        reply: dict[str, Any] = result
        return reply

    async def finish(self, values: Mapping[str, str]) -> None:
        """The commands, then our half of the socket closed at once: Asterisk runs them and finds the end of the
        script right behind them, instead of writing each reply and waiting for this process to read it and hang
        up. Each such wait is one more time the channel's thread must be scheduled while the caller waits
        (BENCHMARKS, issue 17 "AGI under load"). The replies are read afterwards, off the call's path, until
        Asterisk closes its side; a command Asterisk refused is logged."""
        writer, reader = self.request.writer, self.request.reader
        try:
            writer.write("".join(f"{command}\n" for command in set_commands(values)).encode())
            if writer.can_write_eof():
                writer.write_eof()
            self.finished_at = time.perf_counter()
            async with asyncio.timeout(FINISH_TIMEOUT):
                replies = await reader.read()
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise ChannelHangup(f"finish: connection lost ({exc})") from exc
        for line in replies.decode(errors="replace").splitlines():
            if line == "HANGUP" or line.startswith("511 "):
                raise ChannelHangup("finish")
            if line and not line.startswith("200 "):
                raise ChannelError(f"finish: Asterisk answered {line!r}")


class ClassicAgiChannel(AgiChannel):
    """Over stdin/stdout of a script Asterisk started from agi-bin (pyst2's AGI object).

    pyst2 is blocking: each command runs in a worker thread so the AudioSocket capture of the same
    process keeps receiving audio while a command waits for Asterisk.
    """

    def __init__(self, agi: Any):   # asterisk.agi.AGI (pyst2, untyped)
        self.agi = agi

    async def command(self, command: str) -> dict[str, Any]:
        from asterisk.agi import AGIAppError, AGIError, AGIHangup, AGIUnknownError

        try:
            reply: dict[str, Any] = await asyncio.to_thread(self.agi.execute, command)
            return reply
        except (AGIHangup, AGIAppError, BrokenPipeError, EOFError) as exc:
            raise ChannelHangup(f"{command}: {exc}") from exc
        except ValueError as exc:  # stdin closed: pyst2 parsed an empty reply line
            raise ChannelHangup(f"{command}: {exc}") from exc
        except AGIUnknownError as exc:
            if exc.args and exc.args[0] == 511:  # command not permitted on a dead channel
                raise ChannelHangup(command) from exc
            raise ChannelError(f"{command}: {exc}") from exc
        except AGIError as exc:
            raise ChannelError(f"{command}: {exc}") from exc
