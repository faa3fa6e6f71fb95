"""The live wallboard for supervisors: ``GET /api/wallboard``, the latest snapshot (the WebSocket that follows it
live is ``/ws/wallboard``, in ``agent_desk.api.sockets``); ``GET /api/wallboard/standard``, today's GB/T 33358
call figures from the call records (the reports' definitions, ``agent_desk.supervision.kpi``); ``GET
/api/wallboard/asr``, the speech-recognition pool's state (``agent_desk.supervision.asr_pool``); ``GET
/api/wallboard/processes``, the center's processes as ``hotline run`` supervises them (``hotline.contracts.processes``);
``GET /api/wallboard/recordings``, the recordings volume's free space as the listener sees it
(``agent_desk.calls.recording_watch``). The page polls them.

The snapshot is written by the listener (``agent_desk/calls/listener.py``) to Redis; this process only reads
it, so any desk process can serve the page. In a cluster it is the cluster's board, merged by the nodes' listeners
(``agent_desk.supervision.cluster_board``), with each node's state in ``nodes``. None of them holds personal data
(no caller numbers).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from agent_desk.api.deps import require, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.api.supervision_schemas import CallMetrics
from agent_desk.auth.roles import WATCHERS
from agent_desk.auth.sessions import Principal
from agent_desk.calls import recording_watch
from agent_desk.errors import DeskError
from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision import asr_pool, kpi
from agent_desk.supervision.periods import period_of
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, STATES
from hotline.contracts import ContractMismatch
from hotline.contracts import processes as process_contract

log = logging.getLogger(__name__)
router = APIRouter()

AgentState = Literal[STATES]  # type: ignore[valid-type]
TODAY = "今天（省内时间，零点清零）"


# ── the snapshot, as ``Wallboard.snapshot()`` builds it ────────────────────────
class Traffic(Reply):
    """排队中的来电与今天的话务（队列、热线号码、分平台或全部）。"""

    waiting: int = Field(description="正在排队的来电数")
    oldest_since: float | None = Field(description="排队最久的来电开始排队的时间（Unix 时间戳，秒）；无排队时为 null")
    longest_wait: int = Field(description="排队最久的来电已等待的秒数；无排队时为 0")
    answered: int = Field(description=TODAY + "的接通数")
    abandoned: int = Field(description=TODAY + "排队中放弃的来电数")
    answered_within: int = Field(description=TODAY + "在服务水平阈值内接通的来电数")
    service_level: float | None = Field(
        description="服务水平：阈值内接通 ÷（接通 + 放弃），0 至 1 的小数；无来电时为 null")
    avg_handle_seconds: float | None = Field(description="平均处理时长（秒）；今天没有结束的通话时为 null")


class QueueBoard(Traffic):
    queue: str = Field(description="队列名（电话系统中的名称）")
    name: str = Field(description="队列中文名称")
    agents: dict[AgentState, int] = Field(description="该队列签入坐席按状态的人数（只列出人数不为 0 的状态）")


class LineBoard(Traffic):
    line: str = Field(description="热线号码")
    name: str = Field(description="热线名称；未配置时为空字符串")


class SubplatformBoard(Traffic):
    code: str = Field(description="分平台代码")
    name: str = Field(description="分平台（市县）名称")


class AgentStateCounts(Reply):
    """各状态的坐席人数。"""

    idle: int = Field(description="空闲")
    ringing: int = Field(description="振铃")
    on_call: int = Field(description="通话中")
    wrapup: int = Field(description="话后整理")
    paused: int = Field(description="暂停（置忙）")
    unavailable: int = Field(description="话机离线")
    logged_out: int = Field(description="未签入")


class AgentBoard(Reply):
    """一名坐席的实时状态。"""

    interface: str = Field(description="队列成员接口，例如 PJSIP/8001")
    extension: str = Field(description="分机号")
    name: str = Field(description="坐席名称")
    state: AgentState = Field(description="状态代码：idle 空闲、ringing 振铃、on_call 通话中、wrapup 话后整理、"
                                          "paused 暂停、unavailable 话机离线、logged_out 未签入")
    state_label: str = Field(description="状态中文名称")
    since: float = Field(description="进入当前状态的时间（Unix 时间戳，秒）")
    paused: bool = Field(description="已置忙（话机离线或通话中的坐席也可能处于置忙）")
    reason: str = Field(description="置忙原因代码；未置忙时为空字符串")
    reason_label: str = Field(description="置忙原因中文名称；未置忙时为空字符串")
    queues: list[str] = Field(description="已签入的队列")
    call_id: str = Field(description="当前通话的编号；不在通话或振铃中时为空字符串")
    wrapup_until: float | None = Field(description="话后整理结束的时间（Unix 时间戳，秒）；不在话后整理时为 null")


class NodeBoard(Reply):
    """多节点集群中的一个电话节点（Asterisk）：在线时其排队来电与坐席状态计入实时监控。"""

    node: str = Field(description="节点编号（站点配置 cluster.nodes 中的 id）")
    online: bool = Field(description="在线：坐席服务与该节点保持连接且数据及时更新；离线时其排队来电与坐席状态不计入，"
                                     "今天已发生的话务计数仍计入")
    state_label: str = Field(description="状态中文名称：在线 或 节点离线")
    seen_at: float | None = Field(description="最近一次收到该节点数据的时间（Unix 时间戳，秒）；从未收到时为 null")


class WallboardSnapshot(Reply):
    """实时监控的最新快照（不含市民号码等个人信息）；WebSocket /ws/wallboard 推送的快照也是这一形状。"""

    type: Literal["snapshot"] = Field(description="消息类型，固定为 snapshot")
    version: int = Field(description="版本号，内容每变化一次加 1（坐席服务重启后从头计）")
    now: float = Field(description="生成时间（Unix 时间戳，秒）；页面以此计算等待时长")
    generated_at: str = Field(description="生成时间（ISO 8601，省内时间）")
    day: dt.date = Field(description="话务计数所属的日期（省内时间）")
    connected: bool = Field(description="坐席服务当前与电话系统保持连接；为 false 时数据可能已过时")
    service_level_seconds: int = Field(description="服务水平阈值（秒）")
    totals: Traffic = Field(description="全部来电")
    queues: list[QueueBoard] = Field(description="各队列（主队列总在前）")
    lines: list[LineBoard] = Field(description="各热线号码（今天有来电的）")
    subplatforms: list[SubplatformBoard] = Field(description="各分平台（今天有来电的）")
    agent_states: AgentStateCounts = Field(description="各状态的坐席人数")
    agents: list[AgentBoard] = Field(description="各坐席，按分机号排序")
    nodes: list[NodeBoard] = Field(default_factory=list, description=(
        "多节点集群的各电话节点（单节点部署时为空列表）；排队数为各在线节点之和，最长等待取各节点最久者，"
        "服务水平由各节点计数之和重新计算，坐席在任一节点通话中即为通话中"))

class StandardBoard(Reply):
    """今天（省内时间）的国标话务指标（GB/T 33358），由通话记录计算，与报表同一口径。"""

    day: dt.date = Field(description="统计日期（省内时间）")
    generated_at: str = Field(description="计算时间（ISO 8601，省内时间）")
    service_level_seconds: int = Field(description="服务水平阈值（秒）")
    short_abandon_seconds: int = Field(description="短时放弃的界限（秒）：进入队列后这么多秒内挂机")
    offered: int = Field(description="呼入量：进入队列且已接通、挂机或放弃的来电（仍在排队的不计）")
    metrics: CallMetrics = Field(description="各项话务指标")


AsrState = Literal[asr_pool.STATES]  # type: ignore[valid-type]


class AsrWorkers(Reply):
    known: int = Field(description="登记过心跳的转写进程数")
    alive: int = Field(description=f"在线的转写进程数（{int(asr_pool.ALIVE_SECONDS)} 秒内有心跳）")
    busy: int = Field(description="在线且正在转写的进程数")


class AsrCounts(Reply):
    jobs: int = Field(description="转写任务数")
    ok: int = Field(description="转写完成")
    shed: int = Field(description="因过载放弃转写（排队超过时限）")
    lost: int = Field(description="丢失（多次投递仍无进程完成）")
    failed: int = Field(description="转写出错")


class AsrInterval(AsrCounts):
    seconds: float = Field(description=f"所覆盖的秒数（约 {int(asr_pool.INTERVAL)} 秒；刚开始统计时更短）")


class AsrPoolBoard(Reply):
    """语音转写服务（转写进程池）的状态。"""

    state: AsrState = Field(description="状态代码：absent 未接入、offline 转写中断（无在线进程）、busy 转写繁忙"
                                        "（最近一段时间有转写因过载被放弃）、normal 转写正常")
    state_label: str = Field(description="状态中文名称")
    at: float = Field(description="读取时间（Unix 时间戳，秒）")
    workers: AsrWorkers
    totals: AsrCounts = Field(description="转写服务启动以来的累计数")
    interval: AsrInterval | None = Field(description="最近一段时间（约 1 分钟）的数量；刚开始统计时为 null")


UNAVAILABLE = "实时监控数据暂不可用：坐席服务尚未连接电话系统"


@router.get("/wallboard", summary="实时监控快照")
def snapshot(request: Request, who: Principal = Depends(require(*WATCHERS))) -> WallboardSnapshot:
    """实时监控（队列、热线号码、分平台的排队与今天的话务，各坐席的状态）的最新快照，由坐席服务根据电话系统的事件
    生成。要持续跟踪，连接 WebSocket `/ws/wallboard`。坐席服务尚未连接电话系统、或实时数据无法读取时返回 503。"""
    try:
        raw = request.app.state.redis.get(SNAPSHOT_KEY)
    except RedisError as exc:
        log.warning("wallboard snapshot not read: %s", exc)
        raise DeskError(503, "wallboard_unavailable", "实时监控数据暂不可用，请稍后重试") from exc
    if not raw:
        raise DeskError(503, "wallboard_unavailable", UNAVAILABLE)
    return WallboardSnapshot.model_validate_json(raw)


@router.get("/wallboard/standard", summary="今日国标话务指标")
def standard(request: Request, session: Session = Depends(unit_of_work, scope="function"),
             who: Principal = Depends(require(*WATCHERS))) -> StandardBoard:
    """今天（省内时间零点起）的 GB/T 33358 话务指标：接通率、服务水平（阈值内接通）、平均等待时长、来电至入队
    平均时长、预填可用率、放弃率与 5 秒内放弃率、平均处理时长。由通话记录计算，口径与报表、考核指标相同。"""
    ctx = kpi.Context.of(session, request.app.state.settings)
    day = period_of("day")
    figures = kpi.call_totals(session, ctx, day)
    return StandardBoard.model_validate({
        "day": day.start, "generated_at": dt.datetime.now(PROVINCE_TZ).isoformat(timespec="seconds"),
        "service_level_seconds": ctx.service_level_seconds, "short_abandon_seconds": kpi.SHORT_ABANDON_SECONDS,
        **figures})


@router.get("/wallboard/asr", summary="语音转写服务状态")
def asr_state(request: Request, who: Principal = Depends(require(*WATCHERS))) -> AsrPoolBoard:
    """语音转写服务的状态：在线进程数、最近约 1 分钟的转写与放弃数量；过载放弃转写时为“转写繁忙”。
    数据服务无法读取时返回 503。"""
    try:
        board = asr_pool.read(request.app.state.redis)
    except RedisError as exc:
        log.warning("ASR pool state not read: %s", exc)
        raise DeskError(503, "asr_state_unavailable", "转写服务状态暂不可用，请稍后重试") from exc
    return AsrPoolBoard.model_validate(board)


PROCESS_KINDS = tuple(str(k) for k in process_contract.ProcessKind)
PROCESS_STATES = tuple(str(s) for s in process_contract.ProcessState)
ProcessKindCode = Literal[PROCESS_KINDS]  # type: ignore[valid-type]
ProcessStateCode = Literal[PROCESS_STATES]  # type: ignore[valid-type]


class ProcessBoard(Reply):
    """一个受监管的系统进程（由 hotline run 启动，异常退出后自动重启）。"""

    name: str = Field(description="进程名称，例如 media、desk、listener、asr-0")
    kind: ProcessKindCode = Field(description="进程类别代码：media 语音接入、desk 坐席服务、listener 电话事件监听、"
                                              "asr 语音转写进程")
    kind_label: str = Field(description="进程类别中文名称")
    state: ProcessStateCode = Field(description="状态代码：starting 启动中、running 运行中、"
                                                "restarting 异常退出等待重启、stopped 已停止、"
                                                "unknown 状态未知（监管进程已停止报告）")
    state_label: str = Field(description="状态中文名称")
    pid: int | None = Field(description="进程号；未运行时为 null")
    restarts: int = Field(description="异常退出后被重新启动的次数")
    started_at: float | None = Field(description="本次（或最近一次）启动的时间（Unix 时间戳，秒）")
    last_exit: str = Field(description="最近一次退出的方式，例如 SIGKILL、exit 1；从未退出时为空字符串")
    last_exit_at: float | None = Field(description="最近一次退出的时间（Unix 时间戳，秒）；从未退出时为 null")
    updated_at: float = Field(description="监管进程最近一次报告的时间（Unix 时间戳，秒）")


class ProcessesBoard(Reply):
    """系统进程状态：由 hotline run 监管的各进程。以容器部署（无监管进程）时列表为空。"""

    at: float = Field(description="读取时间（Unix 时间戳，秒）")
    supervised: bool = Field(description="有监管进程在报告（列表不为空）")
    processes: list[ProcessBoard] = Field(description="各进程，按名称排序")


def processes_view(raw: dict, now: float) -> ProcessesBoard:
    """The supervisor's records as the board shows them: a record not refreshed for ``STALE_SECONDS`` is 状态未知."""
    rows = []
    for name, data in sorted(raw.items()):
        try:
            record = process_contract.ProcessRecord.decode(data)
        except ContractMismatch as exc:
            log.error("process status %r not shown: %s", name, exc)
            continue
        if now - record.updated_at > process_contract.STALE_SECONDS:
            record = record.model_copy(update={"state": process_contract.ProcessState.UNKNOWN})
        rows.append(ProcessBoard(
            name=record.name, kind=str(record.kind), kind_label=record.kind.label, state=str(record.state),
            state_label=record.state.label, pid=record.pid, restarts=record.restarts, started_at=record.started_at,
            last_exit=record.last_exit, last_exit_at=record.last_exit_at, updated_at=record.updated_at))
    return ProcessesBoard(at=now, supervised=bool(rows), processes=rows)


@router.get("/wallboard/processes", summary="系统进程状态")
def processes_state(request: Request, who: Principal = Depends(require(*WATCHERS))) -> ProcessesBoard:
    """hotline run 监管的系统进程（语音接入、坐席服务、电话事件监听、语音转写）的状态与重启次数。进程异常退出后
    会自动重启，这里显示重启次数与最近一次退出的方式。数据服务无法读取时返回 503。"""

    try:
        raw = request.app.state.redis.hgetall(process_contract.KEY)
    except RedisError as exc:
        log.warning("process status not read: %s", exc)
        raise DeskError(503, "process_state_unavailable", "系统进程状态暂不可用，请稍后重试") from exc
    return processes_view({(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}, time.time())


RecordingsState = Literal[recording_watch.STATES]  # type: ignore[valid-type]


class RecordingsVolume(Reply):
    """一个电话节点的录音存储（单节点时 node 为空字符串）。"""

    node: str = Field(description="电话节点编号；单节点部署为空字符串")
    state: RecordingsState = Field(description="状态代码：normal 正常、low 空间不足、full 已满（新的录音无法写入）、"
                                               f"unknown 状态未知（{int(recording_watch.STALE_SECONDS)} 秒内没有更新）")
    state_label: str = Field(description="状态中文名称")
    free_bytes: int = Field(description="剩余空间（字节）")
    total_bytes: int = Field(description="总空间（字节）")
    low_bytes: int = Field(description="空间不足的界限（字节）")
    recording: int = Field(description="正在录音的通话数")
    at: float = Field(description="检查时间（Unix 时间戳，秒）")


class RecordingsBoard(Reply):
    """录音存储状态：由电话事件监听进程每隔几秒检查。录音目录不在本机可读的节点不列出。"""

    at: float = Field(description="读取时间（Unix 时间戳，秒）")
    volumes: list[RecordingsVolume] = Field(description="各节点的录音存储，按节点排序")


@router.get("/wallboard/recordings", summary="录音存储状态")
def recordings_state(request: Request, who: Principal = Depends(require(*WATCHERS))) -> RecordingsBoard:
    """各电话节点录音存储的剩余空间：低于界限为“录音存储空间不足”，写满为“录音存储空间已满”（通话照常接通，录音会
    中断或失败）。数据服务无法读取时返回 503。"""
    try:
        raw = request.app.state.redis.hgetall(recording_watch.STATE_KEY)
    except RedisError as exc:
        log.warning("recordings storage state not read: %s", exc)
        raise DeskError(503, "recordings_state_unavailable", "录音存储状态暂不可用，请稍后重试") from exc
    now = time.time()
    rows = recording_watch.read({(k.decode() if isinstance(k, bytes) else k):
                                 (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}, now)
    return RecordingsBoard(at=now, volumes=[RecordingsVolume.model_validate(r) for r in rows])
