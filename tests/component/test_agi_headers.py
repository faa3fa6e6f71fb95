"""The FastAGI request headers read in one go (issue 17's cut of the entry route's cost), over a real socket."""

from __future__ import annotations

import asyncio
import contextlib

from agi_scripts import server as agi_server
from tests.component.test_agi_server import headers


async def read_from(*chunks: bytes, pause: float = 0.0, close: bool = False) -> dict[str, str] | None:
    """What ``read_headers`` makes of ``chunks`` written by a peer (``pause`` seconds between them; ``close``: the
    peer then closes its side)."""
    result: asyncio.Future[dict[str, str] | None] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            result.set_result(await agi_server.read_headers(reader))
        except Exception as exc:   # what the server's handler would see: must be none but TimeoutError
            result.set_exception(exc)
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionError):   # the server may give up on us first (the slow peer)
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(pause)
            if close:
                writer.write_eof()
        return await asyncio.wait_for(result, 10)
    finally:
        writer.close()
        srv.close()
        await srv.wait_closed()


async def test_the_headers_whole_or_in_pieces():
    block = headers("entry")
    for parts in ([block], [block[:7], block[7:40], block[40:]]):
        got = await read_from(*parts, pause=0.01)
        assert got is not None and got["agi_network_script"] == "entry" and got["agi_callerid"] == "13907550001"
        assert got["agi_calleridname"] == "市民" and len(got) == 12


async def test_too_long_closed_early_or_too_slow_is_none_or_timeout(monkeypatch):
    assert await read_from(b"agi_x: " + b"y" * agi_server.MAX_HEADER_BYTES + b"\n\n") is None
    assert await read_from(b"agi_network: yes\n", close=True) is None   # closed before the empty line
    monkeypatch.setattr(agi_server, "HEADER_TIMEOUT", 0.3)
    try:   # one line every 0.2 s: each in time, the whole too late
        await read_from(*[b"agi_a: b\n"] * 4, pause=0.2)
    except TimeoutError:
        pass
    else:
        raise AssertionError("a header trickled over more than HEADER_TIMEOUT was accepted")
