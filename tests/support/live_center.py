"""A live center as an operator runs it: the real ``hotline run`` (Asterisk, Redis and the supervised processes)
on free loopback ports, a user's view of its desk over HTTP, and citizens' calls into it over the operator's AMI.

Shared by the end-to-end tests that break a part of the running center (``tests/e2e/test_soak.py``,
``tests/e2e/test_fault_matrix.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis
import yaml

from hotline import channelvars as v
from hotline.ami import AmiClient, EventBuffer
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from launcher.cli import MEDIA_PROCESSES_ENV
from tests.support.ports import free_port

JOIN_WITHIN = 15.0   # seconds from originate to QueueCallerJoin (GB/T 33358's 15 s to answer)


class Desk:
    """A user's view of the running desk over HTTP (the admin's by default)."""

    def __init__(self, url: str, password: str, username: str = "admin"):
        self.url, self.password, self.username, self.token = url, password, username, ""

    def login(self) -> None:
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        request = urllib.request.Request(self.url + "/api/v1/auth/login", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            self.token = json.load(response)["token"]

    def get(self, path: str) -> dict:
        request = urllib.request.Request(self.url + "/api/v1" + path,
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """Status and JSON body, whatever the status (an error answer is what some checks are about)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + "/api/v1" + path, data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def call_queued(self, call_id: str) -> bool:
        return bool(self.get(f"/calls/{call_id}")["queued_at"])

    def processes(self) -> dict[str, dict]:
        return {p["name"]: p for p in self.get("/wallboard/processes")["processes"]}

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False


async def eventually(check, timeout: float, what: str):
    """Poll ``check`` (blocking, run in a thread) until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = await asyncio.to_thread(check)
        except (OSError, urllib.error.URLError, KeyError, redis.RedisError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


class Calls:
    """Citizens' calls into the running center, watched on the operator's AMI connection."""

    def __init__(self, ami: AmiClient, events: EventBuffer, prefix: str = "pk"):
        self.ami, self.events, self.placed, self.prefix = ami, events, 0, prefix

    async def place(self) -> str:
        self.placed += 1
        cid = f"{self.prefix}{os.getpid() % 100000:05d}-{self.placed:04d}"   # fixed width: no id prefixes another
        await self.ami.originate("Local/s@hotline-entry", caller_id="<13907550001>", channel_id=cid, data="600",
                                 variables={f"__{v.LINE}": "12318", f"__{v.QUEUE}": GENERAL_QUEUE,
                                            f"__{v.CALL_ID}": cid})
        return cid

    async def joined(self, cid: str) -> str:
        """Waits until the call joined the general queue; how its AGI ended (``AGISTATUS``)."""
        joined = await self.events.wait(
            lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid and e.get("Queue") == GENERAL_QUEUE,
            JOIN_WITHIN)
        assert joined is not None, f"{cid} did not join {GENERAL_QUEUE} within {JOIN_WITHIN:.0f} s"
        status = [e.get("Value") for e in self.events.events if e.name == "VarSet" and e.get("Linkedid") == cid
                  and e.get("Variable") == "AGISTATUS"]
        return status[-1] if status else ""

    async def waiting(self) -> set[str]:
        return {e.get("Uniqueid").removesuffix("-2")
                for e in await self.ami.action_list({"Action": "QueueStatus", "Queue": GENERAL_QUEUE})
                if e.name == "QueueEntry"}


def start_run(tmp_path: Path, database_url: str | None = None,
              media: int | None = None) -> tuple[subprocess.Popen, dict, Path]:
    """``hotline run`` for a site of its own in ``tmp_path`` (SQLite there unless ``database_url``; ``media``
    FastAGI processes, else the launcher's default)."""
    tag = f"pr{os.getpid()}"
    ports = {name: free_port() for name in ("ami", "sip", "http", "agi", "audiosocket", "desk", "redis")}
    site = {
        "name": tag, "instance_dir": f"/srv/hotline/{tag}", "ami_port": ports["ami"], "sip_port": ports["sip"],
        "http_port": ports["http"], "agi_port": ports["agi"], "audiosocket_port": ports["audiosocket"],
        "desk_port": ports["desk"], "redis_url": f"redis://127.0.0.1:{ports['redis']}/0",
        "database_url": database_url or f"sqlite:///{tmp_path}/desk.sqlite3", "rtp_start": 22100, "rtp_end": 22199,
        "agents": {"count": 2},
    }
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    home = tmp_path / "home"
    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(tmp_path / "site.yaml")}
    if media is not None:
        env[MEDIA_PROCESSES_ENV] = str(media)
    with (tmp_path / "run.log").open("w") as log:   # the child has its own descriptor of it
        proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "run"], env=env, cwd=PROJECT_ROOT,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
    return proc, site, home


def add_user(tmp_path: Path, home: Path, username: str, role: str, password: str) -> None:
    """A desk user made with the desk's own CLI, as an operator would."""
    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(tmp_path / "site.yaml")}
    added = subprocess.run([sys.executable, "-m", "launcher.cli", "desk", "add-user", username, "--role", role,
                            "--password-stdin"], input=password + "\n", text=True, env=env, cwd=PROJECT_ROOT,
                           capture_output=True, timeout=120)
    assert added.returncode == 0, added.stderr
