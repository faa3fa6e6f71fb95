"""A Redis server for a center whose Redis is local: a child process on loopback with a generated password."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LocalRedis:
    """A redis-server child on loopback with a generated password (when the site's Redis is local)."""

    url: str
    password: str
    data_dir: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        parts = urlsplit(self.url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            return  # a remote Redis is the site's to run
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.dies_with_parent(
            ["redis-server", "--bind", parts.hostname, "--port", str(parts.port or 6379),
             "--requirepass", self.password, "--dir", str(self.data_dir), "--save", "60 1000",
             "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
