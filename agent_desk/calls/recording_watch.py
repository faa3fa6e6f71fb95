"""The recordings watch (issue 17): a recording that stops being written during the conversation, and the recordings
volume running out of space, are noticed while the calls are on the line.

The dialplan checks at the answer that the call's file can be written (``HotlineRecordingFailed``); this catches what
happens after: the disk fills during the call. The listener, which knows the calls its node answered and where their
recordings are written (``recording_path``), stats the file of each call being recorded every ``interval`` seconds: one
that has not grown for ``stall_seconds`` (MixMonitor writes 16 kB a second of a bridged call, silence included) is
reported once as interrupted (the tracker marks the call's record and tells its agent 录音中断). The same pass reads
the volume's free space (``os.statvfs``): below ``low_bytes`` it is 空间不足, below ``full_bytes`` 已满, and the state
goes to Redis (``STATE_KEY``, one field per node) for the supervisors' wallboard (``GET /api/wallboard/recordings``).

Only where the recordings can be read: on a cluster each node records on its own machine (``node_instance_dir``), and a
node's listener watches its recordings only when that folder is readable here (``recording.host_directory``, the
same rule as playing them: ``readable_here``). Elsewhere nothing is watched, and the board shows no line for it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_desk.telephony.recording import recording_path

log = logging.getLogger(__name__)

STATE_KEY = "hotline:live:recordings"   # hash: node id ("" on a single node) → the storage state (JSON)
STALE_SECONDS = 60.0                    # a state older than this (its listener gone) is shown as unknown
STATES = ("normal", "low", "full", "unknown")
STATE_LABELS = {"normal": "录音存储正常", "low": "录音存储空间不足", "full": "录音存储空间已满",
                "unknown": "录音存储状态未知"}


@dataclass
class _Recorded:
    path: Path
    size: int = -1          # bytes at the last look; -1: not there yet
    grew_at: float = 0.0    # clock of the last growth (or of the answer)
    reported: bool = False


@dataclass
class Pass:
    """One look: the calls whose recording just stopped growing, and the volume's state."""

    interrupted: list[str]
    storage: dict[str, Any]


@dataclass
class RecordingWatch:
    """``written``: the recordings directory as Asterisk writes it (what ``calls.recording`` names); ``host``: where
    this process reads it (None: not readable here, nothing is watched)."""

    written: str
    host: Path | None
    stall_seconds: float = 15.0
    low_bytes: int = 1 << 30
    full_bytes: int = 1 << 20
    interval: float = 2.0
    node: str = ""
    clock: Callable[[], float] = time.monotonic
    statvfs: Callable[[str], os.statvfs_result] = os.statvfs
    calls: dict[str, _Recorded] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.host is not None and self.host.is_dir()

    def track(self, call_id: str) -> None:
        """The call was answered: its recording should grow from now on (a second answer, a transfer, keeps it)."""
        if self.host is None or call_id in self.calls:
            return
        name = Path(recording_path(self.written, call_id)).name
        self.calls[call_id] = _Recorded(self.host / name, grew_at=self.clock())

    def forget(self, call_id: str) -> None:
        """The agent left the call or it ended: its recording stops by design."""
        self.calls.pop(call_id, None)

    def look(self) -> Pass | None:
        """Stat every watched recording and the volume (blocking: run in a thread). None when not readable here."""
        if not self.active:
            return None
        now = self.clock()
        interrupted = []
        for call_id, rec in list(self.calls.items()):
            try:
                size = rec.path.stat().st_size
            except FileNotFoundError:
                size = -1
            except OSError as exc:
                log.warning("recording of %s not looked at: %s", call_id, exc)
                continue
            if size > rec.size:
                rec.size, rec.grew_at = size, now
            elif not rec.reported and now - rec.grew_at >= self.stall_seconds:
                rec.reported = True
                interrupted.append(call_id)
        return Pass(interrupted, self.storage())

    def storage(self) -> dict[str, Any]:
        assert self.host is not None
        vfs = self.statvfs(str(self.host))
        free, total = vfs.f_bavail * vfs.f_frsize, vfs.f_blocks * vfs.f_frsize
        state = "full" if free < self.full_bytes else "low" if free < self.low_bytes else "normal"
        return {"node": self.node, "state": state, "free_bytes": free, "total_bytes": total,
                "low_bytes": self.low_bytes, "recording": len(self.calls), "at": time.time()}


def encode(storage: dict[str, Any]) -> str:
    return json.dumps(storage, separators=(",", ":"))


def read(raw: dict[str, str], now: float) -> list[dict[str, Any]]:
    """The nodes' storage states as the board shows them, by node; one not refreshed for ``STALE_SECONDS`` (its
    listener gone) is ``unknown``. A state written by another version of the listener is left out."""
    rows = []
    for node, data in sorted(raw.items()):
        try:
            row = json.loads(data)
            state = row["state"] if now - float(row["at"]) <= STALE_SECONDS else "unknown"
            rows.append({"node": node, "state": state, "state_label": STATE_LABELS[state],
                         "free_bytes": int(row["free_bytes"]), "total_bytes": int(row["total_bytes"]),
                         "low_bytes": int(row["low_bytes"]), "recording": int(row["recording"]),
                         "at": float(row["at"])})
        except (ValueError, KeyError, TypeError) as exc:
            log.error("recordings storage state of node %r not shown: %s", node, exc)
    return rows
