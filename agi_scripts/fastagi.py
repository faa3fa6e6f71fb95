"""``ivr.channel.Channel`` over a FastAGI connection (panoramisk's request object)."""

from __future__ import annotations

from panoramisk.fast_agi import Request

from ivr.channel import ChannelError, ChannelHangup


def quote(value: str) -> str:
    """Quote an AGI command argument (spaces, quotes and backslashes survive)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FastAgiChannel:
    def __init__(self, request: Request):
        self.request = request

    async def command(self, command: str) -> dict:
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
        return result

    async def get_variable(self, name: str) -> str | None:
        result = await self.command(f"GET VARIABLE {name}")
        value, data = result.get("result", ("0", ""))
        return data if value == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def play(self, sound: str, escape_digits: str = "") -> str:
        result = await self.command(f"STREAM FILE {sound} {quote(escape_digits)}")
        code = int(result.get("result", ("0", ""))[0] or 0)
        return chr(code) if code > 0 else ""

    async def collect_digits(self, prompt: str, max_digits: int, timeout_ms: int) -> str:
        result = await self.command(f"GET DATA {prompt} {timeout_ms} {max_digits}")
        value, _data = result.get("result", ("", ""))
        return value if value.isdigit() or set(value) <= set("0123456789*#") else ""

    async def exec(self, application: str, arguments: str) -> int:
        result = await self.command(f"EXEC {application} {quote(arguments)}")
        return int(result.get("result", ("0", ""))[0] or 0)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(f"VERBOSE {quote(message)} {level}")

    async def hangup(self) -> None:
        await self.command("HANGUP")
