"""A Redis server for a center whose Redis is local: a child process on loopback with the center's ACL users.

The users (``default`` for the launcher, ``ivr``, ``desk``; ``hotline.access``) are in an ACL file in the data
directory (0600, passwords as SHA-256), so no password is on the command line; the directory is 0700 (the
snapshot holds callers' data)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hotline.private import private_dir, write_private


@dataclass
class LocalRedis:
    """A redis-server child on loopback with the center's ACL users (when the site's Redis is local)."""

    url: str
    acl: str            # the ACL file's text (hotline.access.redis_acl)
    data_dir: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        parts = urlsplit(self.url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            return  # a remote Redis is the site's to run
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        private_dir(self.data_dir)
        acl_file = self.data_dir / "users.acl"
        write_private(acl_file, self.acl)
        for snapshot in self.data_dir.glob("*.rdb"):   # one written before snapshots were private
            snapshot.chmod(0o600)
        self.proc = subprocess.Popen(self.dies_with_parent(
            ["redis-server", "--bind", parts.hostname, "--port", str(parts.port or 6379),
             "--aclfile", str(acl_file), "--dir", str(self.data_dir), "--save", "60 1000",
             "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, umask=0o077,   # its snapshots: 0600
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @staticmethod
    def dies_with_parent(argv: list[str]) -> list[str]:
        """``argv`` run so that it gets SIGTERM if the process starting it dies without stopping it (SIGKILL,
        a crash): ``setpriv --pdeathsig`` sets the parent-death signal, then execs, so the pid stays the
        server's. The kernel ties that signal to the starting *thread*: only the main thread uses it."""
        setpriv = shutil.which("setpriv")
        if setpriv is None or threading.current_thread() is not threading.main_thread():
            return argv
        return [setpriv, "--pdeathsig", "TERM", "--", *argv]
