"""Several FastAGI servers on one port (issue 17: ``hotline run --media N``), over real sockets: the kernel spreads
the connections among them (SO_REUSEPORT), one closed leaves the other serving every call, and a server not told
to share still refuses a port in use (a second center configured on it by mistake must not take calls)."""

from __future__ import annotations

import asyncio

import pytest

from agi_scripts.routes import AgiCall, Route, Services
from agi_scripts.server import AgiServer
from hotline import channelvars as v
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.component.test_agi_server import ScriptedAsterisk
from tests.support.events import poll

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")


async def nothing(call: AgiCall) -> None:
    return None


ROUTES = {"probe": Route(nothing, timeout=5)}


def server(port: int, shared: bool = True) -> AgiServer:
    return AgiServer(Services(plan=PLAN), routes=ROUTES, host="127.0.0.1", port=port, shared_port=shared)


async def calls(port: int, count: int) -> list[list[str]]:
    """``count`` AGI requests, 20 at a time; each one's commands as the server sent them."""
    gate = asyncio.Semaphore(20)

    async def one() -> list[str]:
        async with gate:
            asterisk = ScriptedAsterisk({})
            await asterisk.call(port, "probe")
            return asterisk.commands

    return await asyncio.gather(*(one() for _ in range(count)))


async def test_two_servers_share_the_port_and_one_closed_leaves_the_other_serving():
    first = server(0)
    await first.start()
    second = server(first.port)
    await second.start()
    try:
        done = await calls(first.port, 200)
        await poll(lambda: not first.in_progress and not second.in_progress, 5, "both servers done")
        assert all(commands == [f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"'] for commands in done), done[:3]
        assert first.handled + second.handled == 200
        # The kernel hashes each connection's addresses: with 200 of them, one server alone would be a bug.
        assert first.handled > 0 and second.handled > 0, (first.handled, second.handled)
        await first.stop(abort_calls=True)   # as a process killed: its socket leaves the group
        before = second.handled
        done = await calls(second.port, 50)
        await poll(lambda: not second.in_progress, 5, "the server done")
        assert all(commands == [f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"'] for commands in done)
        assert second.handled - before == 50
    finally:
        await first.stop()
        await second.stop()


async def test_a_server_not_told_to_share_refuses_a_port_in_use():
    first = server(0)
    await first.start()
    try:
        with pytest.raises(OSError):
            await server(first.port, shared=False).start()
    finally:
        await first.stop()
