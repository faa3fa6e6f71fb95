"""A simulated citizen: the other half of a Local channel, driven by a script over its own FastAGI.

The test originates ``Local/<number>@hotline-inbound`` with the citizen's half running
``AGI(agi://127.0.0.1:<port>/caller)``; this server runs the script registered for that channel. The
script reacts to what the center does (AMI events of the center's half: the prompt being played, the
AudioSocket starting) and answers with real DTMF and real recorded speech.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from collections.abc import Awaitable, Callable

from agi_scripts.channel import FastAgiChannel
from agi_scripts.routes import AgiCall, Route
from agi_scripts.server import AgiServer
from tests.support.center import Center

CALLER_DATA = "caller"  # sub-directory of the center's sounds with the 8 kHz recordings


@dataclass
class Citizen:
    center: Center
    cid: str
    channel: FastAgiChannel
    last_cue: float = 0.0

    async def until_center_runs(self, command_part: str, timeout: float = 30) -> None:
        """Wait until the center's half of this call runs an AGI command containing ``command_part``,
        after the previous cue: the citizen reacts to prompts in the order they are played."""
        event = await self.center.events.wait_for(
            lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == self.cid and e.received > self.last_cue
            and command_part in e.get("Command") and e.get("Uniqueid") != self.cid,
            timeout, f"the center runs {command_part!r} on call {self.cid}")
        self.last_cue = event.received

    async def until_queued(self, timeout: float = 60) -> None:
        """Wait until this call joins a queue (queue-first intake: right after the greeting)."""
        event = await self.center.events.wait_for(
            lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == self.cid and e.received > self.last_cue,
            timeout, f"call {self.cid} joins a queue")
        self.last_cue = event.received

    async def press(self, digits: str) -> None:
        await self.channel.exec("SendDTMF", f"{digits},250")

    async def say(self, sample: str) -> None:
        """Speak a real recording (8 kHz copy of shared/stt-samples/<sample>.wav) into the call."""
        sounds = self.center.site.instance_dir + "/sounds"
        await self.channel.play(f"{sounds}/{CALLER_DATA}/{sample}")

    async def quiet(self, seconds: int) -> None:
        """Line noise-free silence, as a phone without silence suppression sends it."""
        await self.channel.exec("Playback", f"silence/{seconds}")

    async def hang_up(self) -> None:
        await self.channel.hangup()

    async def walk_to_description(self, menu: str, city: str | None) -> None:
        """Choose ``menu`` and (if asked) the two-digit ``city``; return when the center starts listening."""
        await self.until_center_runs("ivr-menu")
        await self.press(menu)
        if city is not None:
            await self.until_center_runs("ivr-city")
            await self.press(city)
        await self.until_center_runs("EXEC AudioSocket")


Script = Callable[[Citizen], Awaitable[None]]


class Citizens:
    def __init__(self, center: Center):
        self.center = center
        self.scripts: dict[str, Script] = {}
        self.done: dict[str, asyncio.Future] = {}
        self.server = AgiServer(services=None, routes={"caller": Route(self._run, timeout=300)},  # type: ignore[arg-type]
                                host="127.0.0.1", port=0)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop(abort_calls=True)

    async def _run(self, call: AgiCall) -> None:
        cid = call.headers["agi_uniqueid"]
        script = self.scripts.pop(cid)
        try:
            await script(Citizen(self.center, cid, call.channel))  # type: ignore[arg-type]
            self.done[cid].set_result(None)
        except BaseException as exc:
            self.done[cid].set_exception(exc)
            raise

    async def call(self, number: str, script: Script, caller_id: str) -> str:
        cid = self.center.new_call_id()
        self.scripts[cid] = script
        self.done[cid] = asyncio.get_running_loop().create_future()
        await self.center.ami.originate(
            f"Local/{number}@hotline-inbound", caller_id=f'"市民" <{caller_id}>', channel_id=cid,
            application="AGI", data=f"agi://127.0.0.1:{self.server.port}/caller")
        return cid
