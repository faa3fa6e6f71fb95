"""AudioSocket server: the caller's audio, live, from Asterisk's AudioSocket() to a capture session.

Protocol (Asterisk's res_audiosocket): each message is a 1-byte kind, a 2-byte big-endian length and
the payload. 0x01 the call's UUID (first message), 0x10 8 kHz 16-bit mono PCM, 0x03 one DTMF digit,
0x00 hang up, 0xff error. Sending 0x00 ends AudioSocket() and the dialplan (here: the AGI route that
ran it) carries on.

The AGI route registers a session under a fresh UUID, then runs AudioSocket(uuid,host:port); this
server hands the connection carrying that UUID to the session.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid as uuidlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from ivr.capture import Frame

log = logging.getLogger(__name__)

KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
HANGUP_MESSAGE = bytes([KIND_HANGUP, 0, 0])
# 20 ms of silence. AudioSocket() gives up after 2 s without activity; a phone with silence suppression
# sends nothing while the caller pauses, so the server keeps the connection alive with silence.
SILENCE_FRAME = bytes([KIND_AUDIO]) + struct.pack(">H", 320) + bytes(320)
KEEPALIVE_SECONDS = 0.5
PACE_SECONDS = 0.1   # a listening leg's clock: 100 ms of silence every 100 ms
PACED_FRAME = bytes([KIND_AUDIO]) + struct.pack(">H", 1600) + bytes(1600)
PACE_CATCH_UP = 20   # ticks (2 s) a late pacer may send at once


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(3)
    kind, length = header[0], struct.unpack(">H", header[1:])[0]
    return kind, await reader.readexactly(length) if length else b""


async def frames_of(reader: asyncio.StreamReader) -> AsyncIterator[Frame]:
    while True:
        try:
            kind, payload = await read_message(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            yield Frame("hangup")
            return
        if kind == KIND_AUDIO:
            yield Frame("audio", payload)
        elif kind == KIND_DTMF:
            yield Frame("dtmf", payload[:1])
        elif kind == KIND_HANGUP:
            yield Frame("hangup")
            return
        elif kind == KIND_ERROR:
            yield Frame("error", payload)
            return


class AudioConsumer(Protocol):
    """What takes a connection's audio: ``ivr.capture.CaptureSession`` (one utterance in the menu flow) or
    ``ivr.listen.ListenSession`` (a listening leg, for the whole call).

    ``paced``: what the server sends back while it listens. False: 20 ms of silence every half second, so
    AudioSocket() (which gives up after 2 s without activity) survives a caller whose phone sends nothing while
    they are quiet. True, for a listening leg: silence at real time. ChanSpy hands over as much of the spied
    voice as its own channel receives (once anything arrives), so the server's silence is the clock of the
    spied audio; and while the spied phone sends nothing, that silence keeps AudioSocket() alive."""

    @property
    def paced(self) -> bool: ...

    async def consume(self, frames: AsyncIterator[Frame]) -> Any: ...


class AudioSocketServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self.sessions: dict[str, AudioConsumer] = {}
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def expect(self, session: AudioConsumer) -> str:
        """Register a session; returns the UUID to pass to AudioSocket()."""
        key = str(uuidlib.uuid4())
        self.sessions[key] = session
        return key

    def forget(self, key: str) -> None:
        self.sessions.pop(key, None)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self.handle, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AudioSocket listening on %s", self.address)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @staticmethod
    async def _keep_alive(writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await asyncio.sleep(KEEPALIVE_SECONDS)
                writer.write(SILENCE_FRAME)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return

    @staticmethod
    async def _pace(writer: asyncio.StreamWriter) -> None:
        """Silence at real time on an absolute schedule. A late loop (this process starved of CPU) sends the ticks
        it missed at once, up to ``PACE_CATCH_UP`` of them, so the spied audio buffered meanwhile in Asterisk
        comes through instead of the leg falling behind for good."""
        loop = asyncio.get_running_loop()
        tick = loop.time()
        try:
            while True:
                due = min(PACE_CATCH_UP, 1 + int((loop.time() - tick) / PACE_SECONDS))
                writer.write(PACED_FRAME * due)
                await writer.drain()
                tick += due * PACE_SECONDS
                now = loop.time()
                if now > tick + PACE_CATCH_UP * PACE_SECONDS:
                    tick = now   # too far behind: what was missed beyond that is gone
                await asyncio.sleep(max(0.0, tick - now))
        except (ConnectionError, asyncio.CancelledError):
            return

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            kind, payload = await asyncio.wait_for(read_message(reader), 5)
            key = str(uuidlib.UUID(bytes=payload)) if kind == KIND_UUID and len(payload) == 16 else None
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            key = None
        session = self.sessions.pop(key, None) if key else None
        if session is None:
            log.warning("AudioSocket: connection without a known session (uuid %s)", key)
        else:
            keepalive = asyncio.create_task(self._pace(writer) if session.paced else self._keep_alive(writer))
            try:
                await session.consume(frames_of(reader))
            except Exception:
                log.exception("AudioSocket: capture failed for %s", key)
            finally:
                keepalive.cancel()
        try:
            writer.write(HANGUP_MESSAGE)  # ends AudioSocket(): the call goes on in the dialplan
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()
