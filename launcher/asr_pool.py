"""The ASR workers ``hotline run`` keeps on this machine (``site.speech.workers`` processes of ``hotline asr worker``).

Each is a child of the launcher's ``Supervisor`` (``launcher.supervisor``): one that dies is started again (after a
pause that grows while it keeps dying, up to a minute), and all are stopped (SIGTERM, then SIGKILL after a grace
period) when the stack stops. Other machines add capacity by running ``hotline asr worker`` against the same Redis;
nothing here needs to know.
"""

from __future__ import annotations

import os
import socket
import sys

from hotline.contracts.processes import ProcessKind
from hotline.paths import Paths
from hotline.site import SiteConfig
from launcher.supervisor import Child, Supervisor

WorkerPool = Supervisor   # the pool was the first use of the supervisor; its tests still say so


def child_env(paths: Paths) -> dict[str, str]:
    """The environment of every child of ``hotline run``: this launcher's state home, plan and site."""
    return {**os.environ, "HOTLINE_HOME": str(paths.home), "HOTLINE_PLAN": str(paths.plan),
            "HOTLINE_SITE": str(paths.site)}


def asr_children(site: SiteConfig) -> list[Child]:
    """The site's local workers (none when the site has no speech engine)."""
    count = site.speech.workers if site.speech.engine != "none" else 0
    host = socket.gethostname()
    # Niced: on the box that carries calls, Asterisk, Redis and the media server come first; transcription is
    # what is shed under load.
    return [Child(f"asr-{i}", [sys.executable, "-m", "launcher.cli", "asr", "worker", "--name",
                               f"{host}-{site.name}-{i}", "--nice", "10"], ProcessKind.ASR) for i in range(count)]


def asr_workers(paths: Paths, site: SiteConfig) -> Supervisor:
    """The site's local workers alone, supervised."""
    return Supervisor(asr_children(site), child_env(paths))
