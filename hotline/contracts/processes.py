"""The center's processes as their supervisor sees them (系统进程): written by ``hotline run``, read by the desk.

``hotline run`` (``launcher.supervisor``) runs the FastAGI + AudioSocket media server, the desk, the AMI listener
and the ASR workers as separate processes and restarts one that dies. It keeps one field per process in the hash
``KEY`` (name → a ``ProcessRecord`` as JSON), rewritten on every change and every ``REFRESH_SECONDS`` regardless,
so a record whose ``updated_at`` is older than ``STALE_SECONDS`` means the supervisor itself is gone (the desk
then says 状态未知). A deployment without the supervisor (Docker Compose: its restart policy does this job)
writes nothing: the key is absent.

The key lies under ``hotline:wallboard*``, which the desk's Redis user may read (``hotline.access``); the
supervisor writes as the ``default`` user.
"""

from __future__ import annotations

from typing import ClassVar

from hotline.contracts.base import Payload
from hotline.vocab import Term

KEY = "hotline:wallboard:processes"
REFRESH_SECONDS = 5.0
STALE_SECONDS = 30.0


class ProcessKind(Term):
    """What a supervised process does, as the wallboard names it."""

    MEDIA = "media", "语音接入（FastAGI 与媒体服务）"
    DESK = "desk", "坐席服务"
    LISTENER = "listener", "电话事件监听"
    ASR = "asr", "语音转写进程"


class ProcessState(Term):
    """A supervised process's state (``unknown``: the desk's reading when the supervisor stopped reporting)."""

    STARTING = "starting", "启动中"
    RUNNING = "running", "运行中"
    RESTARTING = "restarting", "异常退出，等待重启"
    STOPPED = "stopped", "已停止"
    UNKNOWN = "unknown", "状态未知"


class ProcessRecord(Payload):
    CONTRACT: ClassVar[str] = "process"

    name: str                      # unique in the center: media, desk, listener, asr-0 ...
    kind: ProcessKind
    state: ProcessState
    pid: int | None = None
    restarts: int = 0              # times it was started again after dying
    started_at: float | None = None    # Unix seconds: the current (or last) run began
    last_exit: str = ""            # how the last run ended: "exit 1", "SIGKILL"; empty before any
    last_exit_at: float | None = None
    next_start_at: float | None = None   # while restarting: when it is started again
    updated_at: float = 0.0
