"""The FastAGI server: reads the AGI request, dispatches it through the route table, reports the outcome.

The dispatcher, not each route, decides what the dialplan sees: after a route returns it sets
``HOTLINE_AGI_STATUS=OK``; after any failure (exception, timeout, unknown route) it sets ``FAILED``
when the channel is still there. The dialplan sends every call that did not get OK to the general
queue, and a call whose AGI server is down gets AGISTATUS=FAILURE and goes the same way.

panoramisk's own ``Application.handler`` is not used: it swallows route exceptions, spins forever on
a connection closed before the headers end, and calls ``asyncio.coroutine`` (gone in Python 3.11).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import time
from collections.abc import Mapping

from panoramisk.fast_agi import Request

from agi_scripts.channel import FastAgiChannel, set_variables
from agi_scripts.routes import ROUTES, AgiCall, Route, Services
from hotline import channelvars as v
from ivr.channel import ChannelError, ChannelHangup

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16384
HEADER_TIMEOUT = 5.0


class _Responder:
    """The slice of panoramisk's Application a Request needs."""

    default_encoding = "utf-8"


async def read_headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
    """The ``agi_*`` headers Asterisk sends first, or None if the peer went away or sent garbage.

    Asterisk ends each header with ``\\n`` and the lot with an empty line (res_agi). One read up to that empty line,
    under one deadline for the lot: a ``readline`` each under its own ``wait_for`` (a task per line, some 25 per
    call) was the largest part of the server's CPU per call (BENCHMARKS.md, issue 17 "AGI under load"). The
    deadline now bounds the whole header, so a peer trickling one line every few seconds is dropped too."""
    try:
        async with asyncio.timeout(HEADER_TIMEOUT):
            block = await reader.readuntil(b"\n\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None   # closed before the blank line, or more than the stream's limit without one
    if len(block) > MAX_HEADER_BYTES:
        return None
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\n"):
        key, sep, value = line.rstrip("\r").partition(": ")
        if sep:
            headers[key] = value
    return headers


async def dispatch(route: Route | None, name: str, call: AgiCall) -> str:
    """Run one AGI request through its route and tell the dialplan how it went (both transports use this).

    Returns the status set: OK when the route returned, FAILED on any failure; nothing is set when the
    caller hung up (there is no channel left to set it on). With OK go the route's ``results``, in the same
    command: the status costs no round trip of its own on a route that has something to set at its end.
    """
    status = v.AGI_FAILED
    hung_up = False
    channel_name = call.headers.get("agi_channel")
    try:
        if route is None:
            log.error("AGI: no route %r (channel %s)", name, channel_name)
        else:
            async with asyncio.timeout(route.timeout):   # not wait_for: that costs a task per call
                await route.handler(call)
            status = v.AGI_OK
    except ChannelHangup:
        hung_up = True
        log.info("AGI %s: caller hung up (%s)", name, channel_name)
    except TimeoutError:
        log.error("AGI %s: route took longer than %.0f s", name, route.timeout if route else 0)
    except Exception:
        log.exception("AGI %s failed on %s", name, channel_name)
    if not hung_up:
        try:
            await set_variables(call.channel, {**call.results, v.AGI_STATUS: status} if status == v.AGI_OK
                                else {v.AGI_STATUS: status}, last=True)
        except ChannelError as exc:   # the dialplan then finds no OK status: the call takes the fallback queue
            log.warning("AGI %s: the route's result was refused on %s: %s", name, channel_name, exc)
        except (ChannelHangup, ConnectionError):
            pass
    return status


def freeze_heap() -> None:
    """For a process that serves calls: collect once, then keep everything loaded at start-up (the number plan,
    the gazetteer, the route tables: some 60,000 objects) out of the cyclic garbage collector's view. A full
    collection over them took 22 ms, a pause any call in progress would wait through; after ``gc.freeze()`` it
    scans only what calls allocate (under 0.1 ms). Call it once the server is built, before it takes calls."""
    gc.collect()
    gc.freeze()


class AgiServer:
    def __init__(self, services: Services, routes: Mapping[str, Route] = ROUTES,
                 host: str = "127.0.0.1", port: int = 4573, *, shared_port: bool = False):
        self.services = services
        self.routes = dict(routes)
        self.host = host
        self.port = port
        # SO_REUSEPORT: several media processes listen on the one FastAGI port and the kernel spreads the
        # connections among them; one that dies leaves the others serving. Off unless asked for, so that a second
        # center configured on the same port by mistake fails with "address in use" instead of taking calls.
        self.shared_port = shared_port
        self._server: asyncio.Server | None = None
        self.handled = 0
        self.failed = 0
        self.durations: collections.deque[float] = collections.deque(maxlen=100_000)  # seconds per request
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def in_progress(self) -> int:
        """Requests being served (a route's last replies are read after Asterisk has moved on: see ``finish``)."""
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self.handle, self.host, self.port, reuse_address=True,
                                                  reuse_port=self.shared_port or None)
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        log.info("FastAGI listening on %s:%s (routes: %s)", self.host, self.port, ", ".join(sorted(self.routes)))

    async def stop(self, abort_calls: bool = False) -> None:
        """Stop listening. With ``abort_calls`` also cut the calls in progress, as a crash would."""
        if self._server is not None:
            self._server.close()
            if abort_calls:
                for writer in list(self._connections):
                    writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            headers = await read_headers(reader)
        except (TimeoutError, ConnectionError):
            headers = None
        if headers is None:
            log.warning("FastAGI: connection from %s closed or malformed before the headers ended",
                        writer.get_extra_info("peername"))
            writer.close()
            return
        started = time.perf_counter()
        self._connections.add(writer)
        name = headers.get("agi_network_script", "").split("?")[0].strip("/")
        channel = FastAgiChannel(Request(_Responder(), headers, reader, writer))
        status = await dispatch(self.routes.get(name), name, AgiCall(channel, headers, self.services))
        self.handled += 1
        if status != v.AGI_OK:
            self.failed += 1
        writer.close()
        self._connections.discard(writer)
        # headers read → the route's last command sent (its reply, read after, is no longer the call's wait)
        self.durations.append((channel.finished_at or time.perf_counter()) - started)
