"""`hotline run`, the README's run command, brings the whole stack up and describes it in stack.json."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
import yaml

from hotline.contracts.asr import WORKERS_KEY
from launcher import asterisk as runner
from hotline.paths import PROJECT_ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.asterisk


def wait_for(path: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"hotline run exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.2)


def ami_login(host: str, port: int, user: str, secret: str) -> bool:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.recv(128)
        sock.sendall(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(512)
        return b"Response: Success" in reply


def redis_ping(url: str, password: str) -> bytes:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
        time.sleep(0.2)
        return sock.recv(64)


def program_and_parent(pid: int) -> tuple[str, int] | None:
    """Process ``pid``'s program name and parent pid (a zombie's too), None once it is gone."""
    try:
        comm, rest = Path(f"/proc/{pid}/stat").read_text().split("(", 1)[1].rsplit(")", 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return comm, int(rest.split()[1])


def children_running(parent: int, program: str) -> list[int]:
    """Pids of ``parent``'s child processes running ``program``."""
    pids = (int(path.name) for path in Path("/proc").iterdir() if path.name.isdigit())
    return [pid for pid in pids if program_and_parent(pid) == (program, parent)]


def test_run_writes_connection_details_that_work_and_stops_cleanly(tmp_path):
    tag = f"run{os.getpid()}"
    ports = {name: free_port() for name in ("ami", "sip", "http", "agi", "audiosocket", "desk", "redis")}
    site = {
        "name": tag, "instance_dir": f"/srv/hotline/{tag}", "ami_port": ports["ami"], "sip_port": ports["sip"],
        "http_port": ports["http"], "agi_port": ports["agi"], "audiosocket_port": ports["audiosocket"],
        "desk_port": ports["desk"],
        "redis_url": f"redis://127.0.0.1:{ports['redis']}/0", "database_url": f"sqlite:///{tmp_path}/desk.sqlite3",
        "rtp_start": 22000, "rtp_end": 22099, "agents": {"count": 2},
    }
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    home = tmp_path / "home"
    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(tmp_path / "site.yaml")}
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "run"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack_json = home / "run" / "stack.json"
    try:
        wait_for(stack_json, proc, 120)
        details = json.loads(stack_json.read_text())
        ami = details["ami"]
        # stack.json names the operator's AMI user (loopback only); the desk has its own, narrower one.
        assert (ami["host"], ami["port"], ami["username"]) == ("127.0.0.1", ports["ami"], "operator")
        secret = Path(ami["secret_file"]).read_text().strip()
        assert ami_login(ami["host"], ami["port"], ami["username"], secret)
        assert not ami_login(ami["host"], ami["port"], ami["username"], secret + "x")
        assert details["fastagi"]["url"] == f"agi://127.0.0.1:{ports['agi']}"
        socket.create_connection(("127.0.0.1", ports["agi"]), timeout=3).close()
        assert details["audiosocket"] == {"host": "127.0.0.1", "port": ports["audiosocket"]}
        socket.create_connection(("127.0.0.1", ports["audiosocket"]), timeout=3).close()
        with urllib.request.urlopen(details["desk"]["url"] + "/healthz", timeout=5) as response:
            assert json.load(response) == {"status": "ok"}
        # The desk's first admin logs in with the password generated at install; anonymous calls are refused.
        admin = {"username": details["desk"]["admin_user"],
                 "password": Path(details["desk"]["admin_password_file"]).read_text().strip()}
        login = urllib.request.Request(details["desk"]["url"] + "/api/v1/auth/login", json.dumps(admin).encode(),
                                       {"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=10) as response:
            assert json.load(response)["user"]["role"] == "admin"
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(details["desk"]["url"] + "/api/v1/me", timeout=5)
        assert anonymous.value.code == 401
        anonymous.value.close()
        password = Path(details["redis"]["password_file"]).read_text().strip()
        assert redis_ping(details["redis"]["url"], password) == b"+OK\r\n+PONG\r\n"
        # The IVR's and the desk's Redis users exist, each with its own secret (the ACL file's).
        for user in ("ivr", "desk"):
            own = (home / "secrets" / f"redis-{user}").read_text().strip()
            assert redis_ping(details["redis"]["url"], f"{user} {own}") == b"+OK\r\n+PONG\r\n"
        # Personal data at rest is the owner's alone: the state home, its secrets, Redis's directory and ACL,
        # the run directory, and the desk's SQLite database.
        modes = {path: stat.S_IMODE(path.stat().st_mode) for path in (
            home, home / "secrets", home / "redis", home / "run", home / "redis" / "users.acl",
            tmp_path / "desk.sqlite3", home / "secrets" / "redis-desk")}
        assert modes == {path: 0o600 if path.is_file() else 0o700 for path in modes}, modes
        # The stack's ASR worker (site.speech.workers, 1 by default) reaches Redis as the asr user: its heartbeat.
        admin = redis.Redis.from_url(details["redis"]["url"], password=password)
        try:
            deadline = time.monotonic() + 60
            while not admin.hkeys(WORKERS_KEY) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(admin.hkeys(WORKERS_KEY)) == 1
        finally:
            admin.close()
        redis_pids = children_running(proc.pid, "redis-server")
        assert len(redis_pids) == 1, redis_pids
        assert details["database"]["url"] == site["database_url"]
        assert details["asterisk"]["ami_ready"] is True
        asterisk_pid = details["asterisk"]["pid"]
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    instance = Path(site["instance_dir"])
    shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                  ignore_errors=True)
    assert proc.returncode == 0, output
    assert not stack_json.exists(), "stack.json is removed on a clean stop"
    assert (not Path(f"/proc/{asterisk_pid}").exists()
            or "Z" in Path(f"/proc/{asterisk_pid}/stat").read_text().split()[2])
    # Its Redis is stopped and reaped, not left running with parent pid 1 (nor a zombie: the pid may be reused).
    assert (program_and_parent(redis_pids[0]) or ("",))[0] != "redis-server"
