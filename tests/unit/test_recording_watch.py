"""The recordings watch's logic (issue 17): with a fake clock and a fake ``statvfs``, on real files in a temporary
folder. A recording that stops growing is reported once after ``stall_seconds``; the volume's free space gives the
wallboard's state; a state its listener stopped refreshing is shown as unknown."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent_desk.calls import recording_watch as rw
from agent_desk.telephony.recording import recording_path

WRITTEN = "/opt/hotline/spool/monitor"   # as Asterisk writes it; the test reads it at tmp_path
MIB = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def volume(folder: Path, free: int, total: int = 100 * MIB):
    """A fake ``os.statvfs`` of ``folder`` only (anything else is a bug: it raises)."""
    def statvfs(path: str):
        if path != str(folder):
            raise AssertionError(f"statvfs of an unexpected path {path}")
        return SimpleNamespace(f_bavail=free // 4096, f_frsize=4096, f_blocks=total // 4096)
    return statvfs


def watch(folder: Path | None, clock: Clock, free: int = 50 * MIB) -> rw.RecordingWatch:
    return rw.RecordingWatch(WRITTEN, folder, stall_seconds=10, low_bytes=20 * MIB, full_bytes=MIB, clock=clock,
                             statvfs=volume(folder, free) if folder is not None else os.statvfs)


def grow(folder: Path, call_id: str, size: int) -> None:
    path = folder / Path(recording_path(WRITTEN, call_id)).name
    with path.open("ab") as out:
        out.write(b"\0" * (size - (path.stat().st_size if path.exists() else 0)))


def test_a_recording_that_stops_growing_is_reported_once_after_the_stall(tmp_path):
    clock = Clock()
    w = watch(tmp_path, clock)
    w.track("1700000000.1")
    for second in range(0, 30, 2):   # 16 kB a second while the call is bridged: never reported
        clock.now = 1000 + second
        grow(tmp_path, "1700000000.1", 16_000 * (second + 1))
        assert w.look().interrupted == []
    clock.now += 9   # the disk filled: the file stays as it is
    assert w.look().interrupted == []
    clock.now += 1
    assert w.look().interrupted == ["1700000000.1"]
    clock.now += 60
    assert w.look().interrupted == []   # once
    grow(tmp_path, "1700000000.1", 10 * MIB)   # written again (space freed): not reported again either
    clock.now += 60
    assert w.look().interrupted == []


def test_a_recording_never_written_is_reported_and_one_forgotten_is_not(tmp_path):
    clock = Clock()
    w = watch(tmp_path, clock)
    w.track("never")          # no file at all (the disk was full when MixMonitor opened it)
    w.track("ended")
    w.track("ended")          # a second answer (a transfer) keeps the first one's clock
    grow(tmp_path, "ended", 100)
    assert w.look().interrupted == []
    w.forget("ended")         # the agent left the call: its recording stops by design
    clock.now += 11
    looked = w.look()
    assert looked.interrupted == ["never"] and looked.storage["recording"] == 1


def test_a_call_id_unsafe_in_a_file_name_is_looked_for_under_the_dialplans_name(tmp_path):
    clock = Clock()
    w = watch(tmp_path, clock)
    w.track("a/b")
    (tmp_path / "a_b.wav").write_bytes(b"RIFF")
    assert w.calls["a/b"].path == tmp_path / "a_b.wav"
    assert w.look().interrupted == []


@pytest.mark.parametrize(("free", "state"), [(50 * MIB, "normal"), (20 * MIB - 4096, "low"), (MIB - 4096, "full"),
                                             (0, "full")])
def test_the_volumes_free_space_gives_its_state(tmp_path, free, state):
    looked = watch(tmp_path, Clock(), free=free).look()
    assert looked.storage | {"at": 0} == {"node": "", "state": state, "free_bytes": free, "total_bytes": 100 * MIB,
                                          "low_bytes": 20 * MIB, "recording": 0, "at": 0}


def test_nothing_is_watched_where_the_recordings_are_not_readable(tmp_path):
    clock = Clock()
    elsewhere = watch(None, clock)           # a cluster node's folder this machine does not read
    elsewhere.track("x")
    assert elsewhere.calls == {} and elsewhere.look() is None
    absent = watch(tmp_path / "not-mounted", clock)   # readable by the rule, but not on this machine
    absent.track("y")
    clock.now += 60
    assert not absent.active and absent.look() is None


def test_the_board_shows_each_nodes_state_and_a_state_not_refreshed_as_unknown(tmp_path):
    now = time.time()
    fresh = {"node": "n1", "state": "low", "free_bytes": 5, "total_bytes": 9, "low_bytes": 7, "recording": 2,
             "at": now - 3}
    raw = {"n1": rw.encode(fresh), "n2": json.dumps(fresh | {"state": "full", "at": now - rw.STALE_SECONDS - 1}),
           "n3": "{not json", "n4": json.dumps({"state": "normal"})}
    rows = rw.read(raw, now)
    assert [(r["node"], r["state"], r["state_label"]) for r in rows] == [
        ("n1", "low", "录音存储空间不足"), ("n2", "unknown", "录音存储状态未知")]
    assert rows[0]["recording"] == 2 and rows[0]["free_bytes"] == 5
