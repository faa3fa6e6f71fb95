"""The wallboard's system status (``GET /api/wallboard/processes``): the supervisor's records as the board
shows them."""

from __future__ import annotations

from agent_desk.api.wallboard import processes_view
from hotline.contracts.processes import STALE_SECONDS, ProcessKind, ProcessRecord, ProcessState

NOW = 1_800_000_000.0


def record(name: str, kind: ProcessKind, state: ProcessState, updated: float, **extra) -> bytes:
    return ProcessRecord(name=name, kind=kind, state=state, updated_at=updated, **extra).encode().encode()


def test_records_show_in_chinese_sorted_and_a_silent_supervisor_reads_unknown():
    raw = {
        "media": record("media", ProcessKind.MEDIA, ProcessState.RUNNING, NOW - 1, pid=42, restarts=1,
                        last_exit="SIGKILL", last_exit_at=NOW - 3),
        "desk": record("desk", ProcessKind.DESK, ProcessState.RUNNING, NOW - STALE_SECONDS - 1, pid=43),
        "asr-0": record("asr-0", ProcessKind.ASR, ProcessState.RESTARTING, NOW - 2, restarts=4, last_exit="exit 1"),
    }
    board = processes_view(raw, NOW)
    assert board.supervised and [p.name for p in board.processes] == ["asr-0", "desk", "media"]
    asr, desk, media = board.processes
    assert (media.kind_label, media.state_label, media.restarts, media.last_exit, media.pid) == (
        "语音接入（FastAGI 与媒体服务）", "运行中", 1, "SIGKILL", 42)
    assert (desk.state, desk.state_label) == ("unknown", "状态未知")   # not refreshed: the supervisor is gone
    assert (asr.state_label, asr.kind_label) == ("异常退出，等待重启", "语音转写进程")


def test_no_supervisor_is_an_empty_list_and_a_foreign_record_is_left_out():
    assert processes_view({}, NOW).model_dump() == {"at": NOW, "supervised": False, "processes": []}
    board = processes_view({"media": b'{"v": 9, "name": "media"}', "x": b"not json"}, NOW)
    assert board.processes == [] and not board.supervised
