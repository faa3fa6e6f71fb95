"""Small AMI helpers shared by the telephony functions: watching events while actions run, variables,
user events. Everything goes through ``hotline.ami.AmiClient``."""

from __future__ import annotations

from collections.abc import Callable

from hotline.ami import AmiClient, AmiError, AmiEvent, EventBuffer


class Watch(EventBuffer):
    """Collects every AMI event from the moment it is entered, so no event that an action causes is missed.

    ``wait`` looks at what has arrived since the watch began (or since ``since``), then at what arrives next.
    """

    def __init__(self, ami: AmiClient):
        super().__init__()
        self.ami = ami

    async def __aenter__(self) -> Watch:
        self.ami.subscribe(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.ami.unsubscribe(self)

    def find(self, predicate: Callable[[AmiEvent], bool]) -> AmiEvent | None:
        return next((e for e in self.events if predicate(e)), None)

    async def wait_any(self, predicates: dict[str, Callable[[AmiEvent], bool]], timeout: float
                       ) -> tuple[str, AmiEvent] | tuple[None, None]:
        """Which of several things happened first (by arrival), with its event."""
        def match(e: AmiEvent) -> bool:
            return any(p(e) for p in predicates.values())

        event = await self.wait(match, timeout)
        if event is None:
            return None, None
        return next(name for name, p in predicates.items() if p(event)), event


async def getvar(ami: AmiClient, channel: str, name: str) -> str | None:
    """A channel variable or function value; None when the channel is gone."""
    try:
        reply = await ami.action({"Action": "Getvar", "Channel": channel, "Variable": name})
    except AmiError:
        return None
    value = reply.get("Value", "")
    return "" if value in ("(null)", "None") else value


async def setvar(ami: AmiClient, channel: str, name: str, value: str) -> None:
    await ami.action({"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value})


async def user_event(ami: AmiClient, name: str, fields: dict[str, str]) -> None:
    """Emit a UserEvent through AMI: every AMI listener (the desk's, the tests') receives it."""
    if {"action", "actionid", "userevent"} & {k.lower() for k in fields}:
        raise ValueError("a UserEvent field may not be named Action, ActionID or UserEvent")
    clean = {k: str(v).replace("\r", " ").replace("\n", " ") for k, v in fields.items()}
    await ami.action({"Action": "UserEvent", "UserEvent": name, **clean})


async def channel_exists(ami: AmiClient, channel: str) -> bool:
    return (await getvar(ami, channel, "CHANNEL(name)")) not in (None, "")
