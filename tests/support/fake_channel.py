"""An in-memory ``ivr.channel.Channel`` for unit tests. It raises on anything it was not told to expect."""

from __future__ import annotations

from ivr.channel import ChannelHangup


class UnexpectedCall(AssertionError):
    pass


class FakeChannel:
    def __init__(self, variables: dict[str, str] | None = None, digits: list[str] | None = None,
                 hang_up_after: int | None = None):
        self.variables = dict(variables or {})
        self.digits = list(digits or [])
        self.set_calls: list[tuple[str, str]] = []
        self.played: list[str] = []
        self.log: list[str] = []
        self._budget = hang_up_after

    def _tick(self, what: str) -> None:
        self.log.append(what)
        if self._budget is not None:
            if self._budget <= 0:
                raise ChannelHangup(what)
            self._budget -= 1

    async def get_variable(self, name: str) -> str | None:
        self._tick(f"get {name}")
        return self.variables.get(name)

    async def get_variables(self, names) -> dict[str, str]:
        self._tick(f"get {','.join(names)}")
        return {name: self.variables.get(name) or "" for name in names}

    async def set_variable(self, name: str, value: str) -> None:
        self._tick(f"set {name}")
        self.set_calls.append((name, value))
        self.variables[name.lstrip("_")] = value

    async def verbose(self, message: str, level: int = 1) -> None:
        self._tick("verbose")

    async def answer(self) -> None:
        raise UnexpectedCall("answer() was not expected: the dialplan answers")

    async def play(self, sound: str, escape_digits: str = "") -> str:
        self._tick(f"play {sound}")
        self.played.append(sound)
        return ""

    async def collect_digits(self, prompt: str, max_digits: int, timeout_ms: int) -> str:
        self._tick(f"collect {prompt}")
        self.played.append(prompt)
        if not self.digits:
            raise UnexpectedCall(f"collect_digits({prompt!r}) with no scripted input left")
        return self.digits.pop(0)

    async def exec(self, application: str, arguments: str) -> int:
        raise UnexpectedCall(f"exec({application!r}) was not expected")

    async def hangup(self) -> None:
        raise UnexpectedCall("hangup() was not expected")
