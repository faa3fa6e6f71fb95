"""The FastAGI dispatcher over real sockets, with a scripted Asterisk on the other end."""

from __future__ import annotations

import asyncio

import pytest

from agi_scripts.routes import ROUTES, Route, Services
from agi_scripts.server import AgiServer
from hotline import channelvars as v
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.events import poll

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")


def headers(script: str, arguments: tuple[str, ...] = ()) -> bytes:
    lines = [
        "agi_network: yes", f"agi_network_script: {script}", "agi_request: agi://127.0.0.1/" + script,
        "agi_channel: Local/12318@hotline-inbound-00000001;2", "agi_language: zh", "agi_type: Local",
        "agi_uniqueid: 1700000000.2", "agi_callerid: 13907550001", "agi_calleridname: 市民",
        "agi_context: hotline-entry", "agi_extension: s", "agi_priority: 2",
        *(f"agi_arg_{i}: {value}" for i, value in enumerate(arguments, 1)),
    ]
    return ("\n".join(lines) + "\n\n").encode()


class ScriptedAsterisk:
    """Answers AGI commands like Asterisk: variables from a dict, records every command."""

    def __init__(self, variables: dict[str, str]):
        self.variables = variables
        self.commands: list[str] = []

    async def call(self, port: int, script: str, arguments: tuple[str, ...] = ()) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(headers(script, arguments))
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                break
            command = line.decode().strip()
            self.commands.append(command)
            if command.startswith("GET VARIABLE "):
                name = command.split()[2]
                reply = f"200 result=1 ({self.variables[name]})" if name in self.variables else "200 result=0"
            else:
                reply = "200 result=1"
            writer.write((reply + "\n").encode())
            await writer.drain()
        writer.close()


async def start(routes=ROUTES) -> AgiServer:
    server = AgiServer(Services(plan=PLAN), routes=routes, host="127.0.0.1", port=0)
    await server.start()
    return server


TAGS = {v.CALL_ID: "1700000000.2", v.LINE: "12318", v.LINE_CLASS: "dual_merged", v.QUEUE: "province"}


async def test_entry_route_reports_ok_to_the_dialplan():
    server = await start()
    try:
        asterisk = ScriptedAsterisk(TAGS)
        await asyncio.wait_for(asterisk.call(server.port, "entry"), 5)
        assert asterisk.commands[-1] == f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"'
        assert f"GET VARIABLE {v.LINE}" in asterisk.commands
    finally:
        await server.stop()


async def test_entry_with_the_tags_as_arguments_costs_asterisk_one_command():
    """The dialplan passes the tags as AGI() arguments ([hotline-entry]): nothing is read back, the status is
    the one command (issue 17: every round trip is a scheduling delay under load)."""
    server = await start()
    try:
        asterisk = ScriptedAsterisk({})   # a GET VARIABLE would find nothing: the route must not need one
        tags = ("1700000000.2", "12318", "dual_merged", "no-such-queue", "")
        await asyncio.wait_for(asterisk.call(server.port, "entry", tags), 5)
        # the unknown queue is repaired (its own command, a rare path), then the status
        assert asterisk.commands == [f'SET VARIABLE __{v.QUEUE} "province"',
                                     f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"']
        asterisk = ScriptedAsterisk({})
        await asyncio.wait_for(asterisk.call(server.port, "entry", ("1700000000.3", "12318", "dual_merged",
                                                                     "province", "")), 5)
        assert asterisk.commands == [f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"']
    finally:
        await server.stop()


async def test_the_routes_last_command_comes_with_the_end_of_the_script():
    """Asterisk finds the end of the script right behind the route's last command: it need not write the reply and
    wait for this server to read it before the call moves on (issue 17, "AGI under load"). The server reads the
    reply afterwards and is done when Asterisk closes."""
    server = await start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(headers("entry", ("1700000000.4", "12318", "dual_merged", "province", "")))
        command = await asyncio.wait_for(reader.readline(), 5)
        assert command.decode().strip() == f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"'
        assert await asyncio.wait_for(reader.read(), 5) == b"", "the script's end, before any reply was written"
        assert server.in_progress == 1   # still there to read the reply
        writer.write(b"200 result=1\n")
        writer.close()
        await poll(lambda: not server.in_progress, 5, "the server done once Asterisk closed")
        assert (server.handled, server.failed) == (1, 0)
    finally:
        await server.stop()


async def test_tags_that_do_not_all_arrive_as_arguments_are_read_from_the_channel():
    server = await start()
    try:
        asterisk = ScriptedAsterisk(TAGS)
        await asyncio.wait_for(asterisk.call(server.port, "entry", ("1700000000.2", "12318")), 5)
        assert f"GET VARIABLE {v.LINE}" in asterisk.commands
        assert asterisk.commands[-1] == f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_OK}"'
    finally:
        await server.stop()


async def _results_and_fail(call) -> None:
    call.results["__HOTLINE_SUBPLATFORM"] = "469002"
    raise ValueError("bug after choosing")


async def _results(call) -> None:
    call.results.update({"__HOTLINE_SUBPLATFORM": "469002", "__HOTLINE_LIVE": ""})


async def test_a_routes_results_go_with_its_status_in_one_mset_and_not_when_it_failed():
    server = await start({"entry": Route(_results, timeout=5), "broken": Route(_results_and_fail, timeout=5)})
    try:
        asterisk = ScriptedAsterisk({})
        await asyncio.wait_for(asterisk.call(server.port, "entry"), 5)
        assert asterisk.commands == [f'EXEC MSet "__HOTLINE_SUBPLATFORM=469002,__HOTLINE_LIVE=,{v.AGI_STATUS}=OK"']
        asterisk = ScriptedAsterisk({})
        await asyncio.wait_for(asterisk.call(server.port, "broken"), 5)
        assert asterisk.commands == [f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_FAILED}"']
    finally:
        await server.stop()


async def _broken(call) -> None:
    raise ValueError("bug")


async def _slow(call) -> None:
    await asyncio.sleep(30)


@pytest.mark.parametrize(("routes", "script"), [
    ({"entry": Route(_broken, timeout=5)}, "entry"),
    ({"entry": Route(_slow, timeout=0.2)}, "entry"),
    (ROUTES, "no-such-route"),
], ids=["route-raises", "route-too-slow", "unknown-route"])
async def test_a_failing_request_reports_failed_and_the_server_keeps_serving(routes, script):
    server = await start(routes)
    try:
        for _ in range(2):
            asterisk = ScriptedAsterisk(TAGS)
            await asyncio.wait_for(asterisk.call(server.port, script), 5)
            assert asterisk.commands == [f'SET VARIABLE {v.AGI_STATUS} "{v.AGI_FAILED}"']
        await poll(lambda: not server.in_progress, 5, "the server done with both requests")
        assert server.failed == 2
    finally:
        await server.stop()


async def test_garbage_and_early_close_do_not_hurt_the_server():
    server = await start()
    try:
        for payload in (b"", b"agi_network: yes\n", b"\xff\xfe garbage without end", b"x" * 20000):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(payload)
            await writer.drain()
            writer.close()
        asterisk = ScriptedAsterisk(TAGS)
        await asyncio.wait_for(asterisk.call(server.port, "entry"), 5)
        assert asterisk.commands[-1].endswith(f'"{v.AGI_OK}"')
    finally:
        await server.stop()


async def test_caller_hanging_up_mid_route_is_not_a_failure():
    server = await start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(headers("entry"))
        await writer.drain()
        await reader.readline()          # the first GET VARIABLE
        writer.write(b"HANGUP\n")        # what Asterisk sends when the caller hangs up
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)
        assert b"SET VARIABLE" not in rest
        writer.close()
        await poll(lambda: not server.in_progress, 5, "the server done with the request")
        assert server.failed == 1 and server.handled == 1
    finally:
        await server.stop()
