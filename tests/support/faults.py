"""Faults injected into a live center (``tests/support/live_center.py``) and the repairs that end them, each
acting on one process by its pid: Redis stopped and started again the way the launcher started it, the test
PostgreSQL cluster stopped and started again on the same port and data, the AMI listener's TCP connection cut
as a network would cut it (``ss -K``, no process told).
"""

from __future__ import annotations

import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from launcher.redis import LocalRedis
from tests.support import postgres_server as pg


def children(parent: int, program: str) -> list[int]:
    """Pids of ``parent``'s child processes running ``program``."""
    found = []
    for path in Path("/proc").iterdir():
        if not path.name.isdigit():
            continue
        try:
            comm, rest = (path / "stat").read_text().split("(", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        if comm == program and int(rest.split()[1]) == parent:
            found.append(int(path.name))
    return found


@dataclass
class RedisOutage:
    """The center's redis-server (a child of ``hotline run``) stopped with SIGTERM (it writes its snapshot, as a
    ``systemctl restart`` would), then started again the way the launcher starts it (``LocalRedis``: the same
    URL, ACL file and data directory)."""

    launcher_pid: int
    url: str
    data_dir: Path
    restarted: LocalRedis | None = None

    def stop(self) -> None:
        [pid] = children(self.launcher_pid, "redis-server")
        _stop_pid(pid, signal.SIGTERM)

    def start(self) -> None:
        self.restarted = LocalRedis(self.url, (self.data_dir / "users.acl").read_text(), self.data_dir)
        self.restarted.start()

    def cleanup(self) -> None:
        """The server started here is this test's to stop (the launcher only stops the one it started)."""
        if self.restarted is not None:
            self.restarted.stop()


def stop_postgres(server: pg.PostgresServer) -> None:
    """Fast shutdown (SIGINT to the postmaster): open transactions roll back, clients see their connection go."""
    pg._terminate(server.proc)


def start_postgres(server: pg.PostgresServer) -> None:
    """The same cluster (data, port, roles) started again; returns once it accepts connections."""
    server.proc = pg._spawn(server.base, pg._cluster_owner(), server.port)
    pg._wait_ready(server.proc, server.base, server.port)


def tcp_connections(pid: int, remote_port: int) -> set[tuple[int, int]]:
    """(local port, socket inode) of ``pid``'s established TCP connections to 127.0.0.1:``remote_port``. The inode
    tells a connection made again from the same local port (the kernel may pick it again) from the one cut."""
    listing = subprocess.run(["ss", "-Htnpe", "state", "established", "dst", f"127.0.0.1:{remote_port}"],
                             capture_output=True, text=True, check=True).stdout
    found = set()
    for line in listing.splitlines():
        inode = re.search(r"\bino:(\d+)", line)
        if f"pid={pid}," in line and inode:
            found.add((int(line.split()[2].rsplit(":", 1)[1]), int(inode.group(1))))
    return found


def cut_tcp(pid: int, remote_port: int) -> set[tuple[int, int]]:
    """Destroys ``pid``'s TCP connections to 127.0.0.1:``remote_port`` in the kernel (``ss -K``: both ends see
    the connection fail, as when a firewall or the network drops it); the (local port, socket inode) of those cut."""
    cut = tcp_connections(pid, remote_port)
    for port, _inode in cut:
        subprocess.run(["ss", "-K", "src", f"127.0.0.1:{port}", "dst", f"127.0.0.1:{remote_port}"],
                       capture_output=True, check=True)
    left = tcp_connections(pid, remote_port) & cut
    assert not left, f"ss -K did not cut {sorted(left)} (a kernel without CONFIG_INET_DIAG_DESTROY?)"
    return cut


def _stop_pid(pid: int, sig: signal.Signals, timeout: float = 15.0) -> None:
    import os
    import time

    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and not _zombie(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} still running {timeout:.0f} s after {sig.name}")
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def kill_process(pid: int) -> None:
    """SIGKILL, as the kernel's OOM killer or a crash would end it: nothing is flushed, nothing is said."""
    import os

    os.kill(pid, signal.SIGKILL)


@dataclass
class FullDisk:
    """``directory`` (where Asterisk writes call recordings) put on a filesystem of its own of ``size`` bytes
    (a tmpfs mounted over it: the box's disk is never filled) and filled to the last byte, as a recordings disk
    is the day it fills up. Files written before stay hidden under the mount meanwhile; ``free`` takes the mount
    away again. Needs mount rights (root, as this test box has); ``mountable()`` says whether they are there."""

    directory: Path
    size: int = 256 * 1024
    mounted: bool = False

    @staticmethod
    def mountable() -> bool:
        import os

        return os.geteuid() == 0 and Path("/proc/filesystems").read_text().find("tmpfs") >= 0

    def fill(self) -> int:
        """Mount and fill; the bytes it took to fill it."""
        self.mount()
        return self.fill_up()

    def mount(self) -> None:
        """The filesystem of its own, with room (a disk that fills later: ``fill_up``)."""
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0777", "hotline-recordings-full",
                        str(self.directory)], check=True, capture_output=True)
        self.mounted = True

    def fill_up(self) -> int:
        """Fill what is left of the mounted filesystem to the last byte; the bytes it took."""
        assert self.mounted
        written = 0
        with (self.directory / "filler").open("ab", buffering=0) as filler:
            try:
                while True:
                    written += filler.write(b"\0" * 4096) or 0
            except OSError:   # ENOSPC: full
                pass
        try:   # a second file's first block is refused too: full, not only the filler's limit
            (self.directory / "probe").write_bytes(b"\0" * 4096)
        except OSError:
            return written
        raise AssertionError(f"{self.directory} still takes writes after {written} bytes")

    def free(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.directory)], check=True, capture_output=True)
            self.mounted = False
