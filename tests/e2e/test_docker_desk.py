"""The Docker deployment's desk and listener, run as plain processes: their compose commands (``hotline desk serve
--no-listener``, ``hotline listener``) with the compose site file (addresses moved to loopback, as no Docker engine
runs here) and secrets laid out as the init service lays them, against the session's real Asterisk, a real Redis
and a real PostgreSQL.

A citizen's call answered by an agent's softphone gives that agent a screen pop on ``/ws/desk`` and the
supervisor's wallboard an agent on the call and one more answered call: the pops and the board cross from the
listener's process to the desk's through Redis, as in ``hotline run``, which runs the same two commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import websockets
import yaml

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db.session import Database
from agent_desk.supervision.wallboard import SNAPSHOT_KEY
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.agents import citizen_reaches_agent, hang_up_everything, logged_in, softphones
from tests.support.center import Center
from tests.support.ports import free_port

pytestmark = pytest.mark.asterisk

COMPOSE_SITE = PROJECT_ROOT / "docker" / "site.compose.yaml"
PASSWORD = "correct-horse-12345"


def compose_command(service: str = "desk") -> list[str]:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return compose["services"][service]["command"]


def without_password(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host)), parts.password or ""


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the desk exited with {proc.returncode}:\n"
                                 f"{proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if json.load(response) == {"status": "ok"}:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the desk did not answer /healthz"
        time.sleep(0.2)


def login(url: str, username: str) -> str:
    request = urllib.request.Request(url + "/api/v1/auth/login",
                                     json.dumps({"username": username, "password": PASSWORD}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["token"]


async def test_the_docker_desk_process_pops_a_real_call_and_feeds_the_wallboard(center: Center, redis_server,
                                                                                new_database, tmp_path):
    # Two services (issue 17): the web app, and the AMI listener whose pops and board reach it through Redis.
    assert compose_command() == ["hotline", "desk", "serve", "--no-listener"]
    assert compose_command("listener") == ["hotline", "listener"]
    extension = softphones(center)[1]
    tag = f"dk{os.getpid()}"
    pg_url, pg_password = without_password(new_database("postgresql"))
    db = Database(pg_url.replace("@", f":{pg_password}@", 1))
    try:
        with db.session() as session:
            create_user(session, f"{tag}-agent", PASSWORD, Role.AGENT, display_name="坐席", extension=extension)
            create_user(session, f"{tag}-boss", PASSWORD, Role.SUPERVISOR, display_name="班长")
    finally:
        db.dispose()

    # The compose site, its addresses moved to loopback; no password in it, as in the image.
    site = yaml.safe_load(COMPOSE_SITE.read_text())
    desk_port = free_port()
    site.update(bind="127.0.0.1", desk_bind="127.0.0.1", ami_port=center.site.ami_port, desk_port=desk_port,
                agi_host="127.0.0.1", redis_url=redis_server.url,
                database_url=pg_url.replace("postgresql://", "postgresql+psycopg://", 1),
                instance_dir=center.site.instance_dir, agents=center.site.agents.model_dump(mode="json"))
    assert "password" not in json.dumps(site) and pg_password not in json.dumps(site)
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site, allow_unicode=True))
    # The secrets as the init service writes them: one file each, 0600.
    secrets = tmp_path / "home" / "secrets"
    secrets.mkdir(parents=True)
    for name, value in (("ami", center.secrets.get("ami")), ("redis-desk", redis_server.passwords["redis-desk"]),
                        ("postgres", pg_password)):
        (secrets / name).write_text(value + "\n")
        (secrets / name).chmod(0o600)

    env = {**os.environ, "HOTLINE_HOME": str(tmp_path / "home"), "HOTLINE_SITE": str(tmp_path / "site.yaml"),
           "HOTLINE_PLAN": str(center.paths.plan)}
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", *compose_command()[1:]], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{desk_port}"
    listener: subprocess.Popen | None = None
    try:
        await asyncio.to_thread(wait_healthy, url, proc)   # the desk migrates first, as compose orders it
        # The session's Redis may hold another test's board, "connected" too: only this listener's counts below.
        with redis.Redis.from_url(redis_server.authenticated_url) as admin:
            admin.delete(SNAPSHOT_KEY)
        listener = subprocess.Popen([sys.executable, "-m", "launcher.cli", *compose_command("listener")[1:]],
                                    env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
        agent_token, boss_token = login(url, f"{tag}-agent"), login(url, f"{tag}-boss")
        ws = url.replace("http", "ws")
        async with websockets.connect(ws + "/ws/desk", additional_headers={"Authorization": f"Bearer {agent_token}"}) \
                as desk_socket, websockets.connect(ws + "/ws/wallboard",
                                                   additional_headers={"Authorization": f"Bearer {boss_token}"}) \
                as board_socket:
            assert json.loads(await asyncio.wait_for(desk_socket.recv(), 10))["type"] == "hello"
            board = await next_board(board_socket, lambda s: s["connected"], "the board is connected to AMI")
            answered = board["totals"]["answered"]
            async with logged_in(center, extension, [GENERAL_QUEUE]):
                call = await citizen_reaches_agent(center, extension)
                pop = json.loads(await asyncio.wait_for(desk_socket.recv(), 30))
                assert pop["type"] == "pop", pop
                assert pop["call"]["call_id"] == call.call_id and pop["call"]["queue"] == GENERAL_QUEUE
                assert pop["call"]["line"] == "12345" and pop["call"]["line_name"]   # the plan's names, not codes
                await next_board(board_socket, lambda s: agent_state(s, extension) == "on_call"
                                 and s["totals"]["answered"] == answered + 1, "the agent on the call, answered + 1")
                await hang_up_everything(center)
    finally:
        outputs = []
        for process in (listener, proc):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                outputs.append((process, (await asyncio.to_thread(process.communicate, timeout=30))[0]))
    for process, output in outputs:
        assert process.returncode == 0, output
        assert "Traceback" not in output, output


def agent_state(snapshot: dict, extension: str) -> str | None:
    return next((a["state"] for a in snapshot["agents"] if a["extension"] == extension), None)


async def next_board(socket, predicate, what: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        message = json.loads(await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic())))
        if message.get("type") != "snapshot":
            continue
        last = message
        if predicate(message):
            return message
    raise AssertionError(f"the wallboard never showed {what}; last: {last}")
