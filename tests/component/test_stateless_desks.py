"""Stateless desks (issue 15, point 5): two desk processes at once (``hotline desk serve --no-listener``, the
command ``hotline run --desk-only`` supervises and the Compose desk runs), on different ports, on one PostgreSQL and
one Redis. What one desk does, the other sees: a session made on one works on the other, a ticket saved through A is
read through B, and a pop published into Redis (as the call's listener publishes it, wherever that listener runs)
reaches the agent whose page is connected to B. Nothing a desk keeps in its own memory is needed by another.

PostgreSQL only: several desk processes on several machines share a database server; SQLite is the one-box default.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
import websockets
import yaml

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.calls import pop
from agent_desk.db.session import Database
from hotline.paths import PROJECT_ROOT
from tests.support.ports import free_port

PASSWORD = "correct-horse-12345"


def without_password(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host)), parts.password or ""


def request(url: str, method: str = "GET", body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=15) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.loads(refused.read() or b"{}")


def start_desk(tmp_path: Path, name: str, site: dict, secrets: dict[str, str]) -> tuple[subprocess.Popen, str]:
    home = tmp_path / name
    (home / "secrets").mkdir(parents=True)
    for secret, value in secrets.items():
        (home / "secrets" / secret).write_text(value + "\n")
        (home / "secrets" / secret).chmod(0o600)
    port = free_port()
    (home / "site.yaml").write_text(yaml.safe_dump({**site, "desk_port": port}, allow_unicode=True))
    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(home / "site.yaml")}
    log = open(home / "desk.log", "wb")   # noqa: SIM115 - the child holds it; closed with the test's tmp_path
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "desk", "serve", "--no-listener"], env=env,
                            cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return proc, f"http://127.0.0.1:{port}"


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the desk exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer /healthz"
        time.sleep(0.2)


def ticket() -> dict:
    return {"channel": "phone", "citizen_name": "王小明", "citizen_phone": "13800138000", "title": "小区自来水发黄",
            "content": "嘉积镇金海岸小区的自来水这两天发黄，烧开后有沉淀。", "demand": "请尽快检查水质",
            "appeal_type": "complaint", "topic": "03-water", "location": "琼海市嘉积镇金海岸小区",
            "occurred": "本周一起", "source_line": "12345"}


async def test_two_desks_on_one_database_and_one_redis_serve_the_same_center(tmp_path, redis_server, new_database):
    tag = f"sd{os.getpid()}"
    pg_url, pg_password = without_password(new_database("postgresql"))
    db = Database(pg_url.replace("@", f":{pg_password}@", 1))
    try:
        with db.session() as session:
            agent = create_user(session, f"{tag}-agent", PASSWORD, Role.AGENT, display_name="坐席", extension="8001")
            agent_id = agent.id
            create_user(session, f"{tag}-boss", PASSWORD, Role.SUPERVISOR, display_name="班长")
    finally:
        db.dispose()
    site = {"name": tag, "desk_bind": "127.0.0.1", "ami_port": free_port(),   # no Asterisk: the desks' AMI waits
            "redis_url": redis_server.url,
            "database_url": pg_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "agents": {"count": 2}, "speech": {"engine": "none", "workers": 0}}
    secrets = {"ami": "unused-here", "redis-desk": redis_server.passwords["redis-desk"], "postgres": pg_password}
    (proc_a, a), (proc_b, b) = start_desk(tmp_path, "a", site, secrets), start_desk(tmp_path, "b", site, secrets)
    try:
        await asyncio.gather(asyncio.to_thread(wait_healthy, a, proc_a, tmp_path / "a" / "desk.log"),
                             asyncio.to_thread(wait_healthy, b, proc_b, tmp_path / "b" / "desk.log"))
        assert a != b

        # Sessions: made on one desk, good on the other (they live in the database, not in a desk's memory).
        status, login = request(a + "/api/v1/auth/login", "POST", {"username": f"{tag}-agent", "password": PASSWORD})
        assert status == 200, login
        token = login["token"]
        assert request(b + "/api/v1/me", token=token)[1]["username"] == f"{tag}-agent"
        boss = request(b + "/api/v1/auth/login", "POST", {"username": f"{tag}-boss", "password": PASSWORD})[1]["token"]
        assert request(a + "/api/v1/me", token=boss)[1]["username"] == f"{tag}-boss"

        # A ticket saved through A is read through B, masked there as on A for who reads it.
        status, saved = request(a + "/api/v1/tickets", "POST", ticket(), token=token)
        assert status == 201, saved
        status, read = request(b + f"/api/v1/tickets/{saved['number']}", token=boss)
        assert status == 200, read
        assert (read["number"], read["title"], read["content"]) == (saved["number"], "小区自来水发黄",
                                                                    ticket()["content"])

        # A logout on B ends the session on A too.
        assert request(b + "/api/v1/auth/logout", "POST", {}, token=boss)[0] == 200
        assert request(a + "/api/v1/me", token=boss)[0] == 401

        # A pop published into Redis by the call's listener (fed by whichever node took the call) reaches the agent
        # connected to desk B; desk A holds no socket of this agent's and is not in the path.
        message = {"type": "pop", "call": {"call_id": f"{tag}-call", "queue": "q-general", "line": "12345"}}
        async with websockets.connect(b.replace("http", "ws") + "/ws/desk",
                                      additional_headers={"Authorization": f"Bearer {token}"}) as socket:
            assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "hello"
            with redis.Redis.from_url(redis_server.authenticated_url) as admin:
                assert admin.publish(pop.channel_for(agent_id), pop.encode(message)) >= 1
            received = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert received == message
    finally:
        for proc in (proc_a, proc_b):
            proc.send_signal(signal.SIGTERM)
        codes = [await asyncio.to_thread(proc.wait, 30) for proc in (proc_a, proc_b)]
    logs = [(tmp_path / name / "desk.log").read_text(errors="replace") for name in ("a", "b")]
    assert codes == [0, 0], logs
    assert not any("Traceback" in text for text in logs), logs
