"""The live wallboard for supervisors: ``GET /api/wallboard`` (the latest snapshot) and ``WebSocket
/ws/wallboard`` (the snapshot and the active early-warning alerts on connect, then every message of the
``hotline:wallboard`` channel: snapshots from the desk's AMI listener, alerts from early warning).

The snapshot is written by the listener (``agent_desk/calls/listener.py``) to Redis; this process only reads
it, so any desk process can serve the page. It holds no personal data (no caller numbers).
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, Depends, Request, WebSocket
from redis.exceptions import RedisError

from agent_desk.api.calls import _forward, _idle, socket_principal
from agent_desk.api.deps import require
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError
from agent_desk.supervision import warnings
from agent_desk.supervision.wallboard import SNAPSHOT_KEY

log = logging.getLogger(__name__)
router = APIRouter()

WATCHERS = (Role.SUPERVISOR, Role.ADMIN)
UNAVAILABLE = "实时监控数据暂不可用：坐席服务尚未连接电话系统"


@router.get("/api/wallboard")
def snapshot(request: Request, who: Principal = Depends(require(*WATCHERS))) -> dict:
    try:
        raw = request.app.state.redis.get(SNAPSHOT_KEY)
    except RedisError as exc:
        log.warning("wallboard snapshot not read: %s", exc)
        raise DeskError(503, "wallboard_unavailable", "实时监控数据暂不可用，请稍后重试") from exc
    if not raw:
        raise DeskError(503, "wallboard_unavailable", UNAVAILABLE)
    return json.loads(raw)


@router.websocket("/ws/wallboard")
async def wallboard_socket(socket: WebSocket) -> None:
    who = await socket_principal(socket)
    if who is None:
        return
    await socket.accept()   # then refused with a code the page can read (a refused handshake has none)
    if who.role not in WATCHERS:
        await socket.close(code=4403, reason="forbidden role")
        return
    client = socket.app.state.settings.async_redis()
    pubsub = client.pubsub()
    reader = None
    try:
        await pubsub.subscribe(warnings.CHANNEL)   # first: nothing published while we read falls into a gap
        raw = await client.get(SNAPSHOT_KEY)
        alerts = await client.hvals(warnings.ACTIVE)
        await socket.send_text(raw or json.dumps({"type": "unavailable", "message": UNAVAILABLE}, ensure_ascii=False))
        await socket.send_json({"type": "alerts", "alerts": [json.loads(a) for a in alerts]})
        reader = asyncio.create_task(_forward(pubsub, socket))
        await _idle(socket)
    except (RedisError, OSError) as exc:
        log.warning("wallboard channel unavailable for %s: %s", who.username, exc)
        await socket.send_json({"type": "degraded", "message": "实时监控暂不可用（数据服务无法连接），请稍后刷新"})
        await _idle(socket)
    finally:
        if reader is not None:
            reader.cancel()
        await pubsub.aclose()
        await client.aclose()
