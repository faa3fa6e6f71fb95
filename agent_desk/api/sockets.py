"""The desk's two WebSockets: ``/ws/desk`` (an agent's screen pops, live prefill and the call's live transcript; a
supervisor's live transcript of the calls it listens to) and ``/ws/wallboard`` (the
supervisors' live board and early-warning alerts). Both carry what Redis pub/sub delivers to this process, so
any desk process can serve any page.

Who may listen is checked at the handshake and again every ``socket_recheck`` seconds while the socket is
open: a user who logs out, whose session expires or who is deactivated is disconnected (close code 4401)
within seconds, instead of receiving pops until the browser closes. A browser's handshake must come from the
desk's own pages (its ``Origin`` is the host it connects to, or one of ``allowed_origins``): another site cannot
open a socket with the user's cookie (close code 4403). Close codes: 4401 not signed in, 4403 not allowed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

import anyio
import redis.asyncio as aioredis
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from agent_desk.api.deps import token_of
from agent_desk.api.wallboard import UNAVAILABLE as BOARD_UNAVAILABLE
from agent_desk.auth.roles import WATCHERS, Role
from agent_desk.auth.sessions import Principal, authenticate
from agent_desk.calls import pop
from agent_desk.supervision import warnings
from agent_desk.supervision.wallboard import SNAPSHOT_KEY

log = logging.getLogger(__name__)
router = APIRouter()

NOT_SIGNED_IN, NOT_ALLOWED = 4401, 4403


@router.websocket("/ws/desk")
async def desk_socket(socket: WebSocket) -> None:
    """Pushes pops, live prefill and transcript turns to the agent's page, and the turns of a call a supervisor
    listens to (``agent_desk.calls.transcript``) to the supervisor's. Auth: the session cookie or a Bearer header."""
    who = await _open(socket)
    if who is None:
        return
    hello = {"type": "hello", "user": who.username, "role": who.role.value}
    if who.role not in (Role.AGENT, Role.SUPERVISOR):
        await socket.send_json(hello)
        await _hold(socket, who)
        return
    client = socket.app.state.settings.async_redis()
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(pop.channel_for(who.user_id))  # before hello: no pop falls into a gap
        await socket.send_json(hello)
        await _forward_while_open(pubsub, socket, who)
    except (RedisError, OSError) as exc:
        log.warning("pop channel unavailable for %s: %s", who.username, exc)
        await socket.send_json(hello)
        await socket.send_json({"type": "degraded", "message": "实时弹屏暂不可用，请刷新或查看当前通话"})
        await _hold(socket, who)
    finally:
        await _close(pubsub, client)


@router.websocket("/ws/wallboard")
async def wallboard_socket(socket: WebSocket) -> None:
    """The snapshot and the active alerts on connect, then every message of the wallboard channel."""
    who = await _open(socket)
    if who is None:
        return
    if who.role not in WATCHERS:
        await socket.close(code=NOT_ALLOWED, reason="forbidden role")
        return
    client = socket.app.state.settings.async_redis()
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(warnings.CHANNEL)   # first: nothing published while we read falls into a gap
        raw = await client.get(SNAPSHOT_KEY)
        alerts = await client.hvals(warnings.ACTIVE)
        await socket.send_text(raw or json.dumps({"type": "unavailable", "message": BOARD_UNAVAILABLE},
                                                 ensure_ascii=False))
        await socket.send_json({"type": "alerts", "alerts": [json.loads(a) for a in alerts]})
        await _forward_while_open(pubsub, socket, who)
    except (RedisError, OSError) as exc:
        log.warning("wallboard channel unavailable for %s: %s", who.username, exc)
        await socket.send_json({"type": "degraded", "message": "实时监控暂不可用（数据服务无法连接），请稍后刷新"})
        await _hold(socket, who)
    finally:
        await _close(pubsub, client)


async def _close(pubsub: PubSub, client: aioredis.Redis) -> None:
    """Release the Redis connections even while the server cancels the connection's task: a cancellation landing
    inside redis-py's own timeouts would otherwise escape the server's cancel scope as an error."""
    with anyio.CancelScope(shield=True):
        await pubsub.aclose()
        await client.aclose()


async def _open(socket: WebSocket) -> Principal | None:
    """Accept the socket for a signed-in user from an allowed origin; otherwise accept and close it with a code the
    page can read (a refused handshake has none) and return None."""
    await socket.accept()
    if not _origin_allowed(socket):
        await socket.close(code=NOT_ALLOWED, reason="origin not allowed")
        return None
    who = await _principal(socket)
    if who is None:
        await socket.close(code=NOT_SIGNED_IN, reason="not authenticated")
    return who


def _origin_allowed(socket: WebSocket) -> bool:
    """Browsers always send Origin on a WebSocket handshake; programs (a wallboard screen's script) may not."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    allowed = socket.app.state.settings.allowed_origins
    if origin in allowed:
        return True
    return urlsplit(origin).netloc.lower() == socket.headers.get("host", "").lower()


async def _principal(socket: WebSocket) -> Principal | None:
    token = token_of(socket.headers, socket.cookies)
    if not token:
        return None

    def check() -> Principal | None:
        with socket.app.state.db.session() as session:
            who = authenticate(session, token)
        return None if who is None or who.must_change_password else who   # first a new password

    return await asyncio.to_thread(check)


async def _forward_while_open(pubsub: PubSub, socket: WebSocket, who: Principal) -> None:
    """Forward the channel to the socket until the socket ends (browser gone, session ended). One task group: the
    forwarder never outlives the socket, and the server's cancellation reaches both."""
    async with anyio.create_task_group() as group:
        group.start_soon(_forward, pubsub, socket)
        await _hold(socket, who)
        group.cancel_scope.cancel()


async def _forward(pubsub: PubSub, socket: WebSocket) -> None:
    try:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                await socket.send_text(message["data"])
    except (WebSocketDisconnect, RuntimeError):   # the socket closed while a message was on its way
        return


async def _hold(socket: WebSocket, who: Principal) -> None:
    """Keep the socket until the browser goes away (it may send pings), checking the session as time passes."""
    every = socket.app.state.settings.socket_recheck.total_seconds()
    while True:
        # anyio's timeout, not asyncio.wait_for: it nests with the server's own cancel scopes (a wait_for timing
        # out while the server cancels the connection can turn that cancellation into an error).
        with anyio.move_on_after(every):
            try:
                await socket.receive_text()
            except WebSocketDisconnect:
                return
        if await _principal(socket) is None:
            log.info("socket of %s closed: the session ended", who.username)
            await socket.close(code=NOT_SIGNED_IN, reason="session ended")
            return
