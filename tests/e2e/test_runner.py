"""The local Asterisk runner is idempotent: a second `up` reuses the running Asterisk and the cached root."""

from __future__ import annotations

import asyncio
import time

import pytest

from launcher import asterisk as runner
from tests.support.center import Center

pytestmark = pytest.mark.asterisk


async def test_second_up_reuses_the_running_asterisk(center: Center):
    pid = center.asterisk.pid()
    started = time.monotonic()
    await asyncio.to_thread(center.asterisk.up)
    assert center.asterisk.pid() == pid
    assert time.monotonic() - started < 30
    status = center.asterisk.status()
    assert status["ami_ready"] and status["pid"] == pid


def test_a_ready_root_is_reused_without_debootstrap(tmp_path, monkeypatch):
    (tmp_path / runner.READY_MARK).write_text("asterisk\n")

    def no_subprocess(*args, **kwargs):
        raise AssertionError("a ready root must not be rebuilt")

    monkeypatch.setattr(runner.subprocess, "Popen", no_subprocess)
    assert runner.build_root(tmp_path, progress=lambda _msg: None) == tmp_path
