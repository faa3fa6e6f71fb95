"""A real redis-server on a free loopback port with the center's ACL users (``hotline.access``: ``default`` with
``password``, ``ivr`` and ``desk`` with their own), started and stopped by pid.

It also dies with the process that started it (parent-death signal): a test run or a bench stopped by SIGTERM or
SIGKILL, which runs no teardown, leaves no orphan redis-server behind.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hotline import access
from launcher.redis import LocalRedis
from tests.support.ports import free_port


@dataclass
class RedisServer:
    port: int
    password: str
    proc: subprocess.Popen
    passwords: dict[str, str] = field(default_factory=dict)   # secret name (hotline.access) -> password

    def user_url(self, user: str) -> str:
        """A URL with an ACL user's credentials: ``ivr``, ``desk`` or ``asr``."""
        secret = {access.REDIS_IVR_USER: access.REDIS_IVR_SECRET,
                  access.REDIS_DESK_USER: access.REDIS_DESK_SECRET,
                  access.REDIS_ASR_USER: access.REDIS_ASR_SECRET}[user]
        return f"redis://{user}:{self.passwords[secret]}@127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def authenticated_url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, workdir: Path) -> RedisServer:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: scripts/setup.sh installs it")
        port = free_port()
        passwords = {name: secrets.token_urlsafe(16) for name in access.REDIS_SECRETS}
        password = passwords[access.REDIS_ADMIN_SECRET]
        workdir.mkdir(parents=True, exist_ok=True)
        acl = workdir / "users.acl"
        acl.write_text(access.redis_acl(passwords))
        return cls(port, password, cls._spawn(port, workdir), passwords)

    @staticmethod
    def _spawn(port: int, workdir: Path) -> subprocess.Popen:
        proc = subprocess.Popen(LocalRedis.dies_with_parent(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--aclfile", str(workdir / "users.acl"),
             "--save", "", "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return proc
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
        raise RuntimeError("redis-server did not start")

    def restart(self, workdir: Path) -> None:
        """A new, empty server on the same port with the same users (a Redis restart without persistence)."""
        self.stop()
        self.proc = self._spawn(self.port, workdir)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
