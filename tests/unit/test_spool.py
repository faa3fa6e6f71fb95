"""The IVR's spool drained by several media processes at once: each item sent once, a newer version written while
the old one is sent kept, a failed send given back, and the claim of a process killed mid-send drained by the next.

The short soak found two media processes draining one spool: both read an item, both sent it, and the second's
unlink failed (FileNotFoundError) and ended its drain with a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ivr.spool import CLAIMED, Spool


def spool_of(tmp_path, *names: str) -> Spool:
    spool = Spool(tmp_path / "spool")
    for name in names:
        spool.put(name, json.dumps({"call": name}))
    return spool


async def test_two_drains_at_once_send_each_item_once(tmp_path) -> None:
    spool = spool_of(tmp_path, *(f"c{i:03d}" for i in range(30)))
    sent: list[str] = []

    async def send(name: str, payload: str) -> None:
        await asyncio.sleep(0)   # the other drain runs meanwhile, as on a Redis round trip
        sent.append(name)

    moved = await asyncio.gather(spool.drain(send), spool.drain(send))
    assert sorted(sent) == [f"c{i:03d}" for i in range(30)]   # each once
    assert sum(moved) == 30 and spool.names() == [] and not list(spool.directory.iterdir())


async def test_a_newer_version_written_while_the_old_is_sent_stays_for_the_next_drain(tmp_path) -> None:
    spool = spool_of(tmp_path, "c1")
    sent: list[str] = []

    async def send(name: str, payload: str) -> None:
        assert spool.get(name) == json.loads(payload)   # still readable while it is being sent
        spool.put(name, json.dumps({"call": name, "version": 2}))
        sent.append(payload)

    assert await spool.drain(send) == 1
    assert spool.get("c1") == {"call": "c1", "version": 2}
    assert await spool.drain(send) == 1 and json.loads(sent[-1])["version"] == 2


async def test_a_failed_send_gives_the_item_back_and_stops(tmp_path) -> None:
    spool = spool_of(tmp_path, "c1", "c2")

    async def refused(name: str, payload: str) -> None:
        raise RedisConnectionError("Redis is down")

    assert await spool.drain(refused) == 0
    assert spool.names() == ["c1", "c2"] and not list(spool.directory.glob(f"*{CLAIMED}"))


async def test_the_claim_of_a_killed_process_is_drained_by_the_next(tmp_path) -> None:
    spool = spool_of(tmp_path, "c1")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    orphan = spool.directory / f"c1.json.{int(dead.stdout)}{CLAIMED}"
    spool.path("c1").rename(orphan)   # claimed, then the process was killed before it sent or gave it back
    mine = spool.directory / f"c2.json.{os.getpid()}{CLAIMED}"
    mine.write_text(json.dumps({"call": "c2"}))   # a live process's claim is left alone
    sent: list[str] = []

    async def send(name: str, payload: str) -> None:
        sent.append(name)

    assert await spool.drain(send) == 1
    assert sent == ["c1"] and not orphan.exists() and mine.exists()


@pytest.mark.parametrize("newer", [False, True])
async def test_an_orphan_never_overwrites_a_newer_version(tmp_path, newer) -> None:
    spool = spool_of(tmp_path, "c1")
    orphan = spool.directory / f"c1.json.999999999{CLAIMED}"   # no such pid
    spool.path("c1").rename(orphan)
    if newer:
        spool.put("c1", json.dumps({"call": "c1", "version": 2}))
    sent: list[dict] = []

    async def send(name: str, payload: str) -> None:
        sent.append(json.loads(payload))

    assert await spool.drain(send) == 1
    assert sent == [{"call": "c1", "version": 2} if newer else {"call": "c1"}]
