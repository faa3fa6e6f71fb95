"""The live wallboard for supervisors: ``GET /api/wallboard``, the latest snapshot (the WebSocket that follows it
live is ``/ws/wallboard``, in ``agent_desk.api.sockets``).

The snapshot is written by the listener (``agent_desk/calls/listener.py``) to Redis; this process only reads
it, so any desk process can serve the page. It holds no personal data (no caller numbers).
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Depends, Request
from redis.exceptions import RedisError

from agent_desk.api.deps import require
from agent_desk.auth.roles import WATCHERS
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError
from agent_desk.supervision.wallboard import SNAPSHOT_KEY

log = logging.getLogger(__name__)
router = APIRouter()

UNAVAILABLE = "实时监控数据暂不可用：坐席服务尚未连接电话系统"


@router.get("/wallboard")
def snapshot(request: Request, who: Principal = Depends(require(*WATCHERS))) -> dict:
    try:
        raw = request.app.state.redis.get(SNAPSHOT_KEY)
    except RedisError as exc:
        log.warning("wallboard snapshot not read: %s", exc)
        raise DeskError(503, "wallboard_unavailable", "实时监控数据暂不可用，请稍后重试") from exc
    if not raw:
        raise DeskError(503, "wallboard_unavailable", UNAVAILABLE)
    return json.loads(raw)
