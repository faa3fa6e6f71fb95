"""Call recording: one MixMonitor per call, the file named by the call id under the recordings directory.

The queue records every call it hands to an agent, from the answer on (queues.conf ``monitor-format``, set up in
``[hotline-queue]``), and the dialplan every retained-seat transfer; ``start_recording`` is for a call the desk
wants recorded otherwise (never a call still waiting in a queue: the queue starts its own at the answer), and never
starts a second recording of a channel that is already recorded (it returns the running one's path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.ami import AmiClient
from hotline.site import SiteConfig

from agent_desk.telephony._ami import getvar

if TYPE_CHECKING:
    from agent_desk.settings import DeskSettings

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
WAV_HEADER_BYTES = 44   # the RIFF header Asterisk's wav format writes before any sound
_SPOOL = "/spool/monitor"


def recordings_dir(site: SiteConfig, node: str | None = None) -> str:
    """Where Asterisk writes recordings, as Asterisk sees it (the dialplan's HOTLINE_RECORDINGS); ``node``: a
    cluster node's, under its own instance directory ``<instance_dir>-<node id>`` (``hotline.confgen.cluster``)."""
    return f"{site.node_instance_dir(node) if node else site.instance_dir}{_SPOOL}"


def recording_path(directory: str, call_id: str) -> str:
    """``<directory>/<call id>.wav``: the same name the dialplan uses."""
    return f"{directory.rstrip('/')}/{_UNSAFE.sub('_', call_id)}.wav"


@dataclass(frozen=True)
class Recording:
    call_id: str
    channel: str
    path: str          # as Asterisk writes it; in chroot mode the host sees it under the Asterisk root
    started: bool      # False: the channel was already being recorded, ``path`` is that recording


async def start_recording(ami: AmiClient, channel: str, call_id: str, directory: str) -> Recording:
    """Record ``channel`` (both directions, while bridged) to ``<directory>/<call id>.wav``."""
    running = await getvar(ami, channel, "MIXMONITOR_FILENAME")
    if running is None:
        raise LookupError(f"channel {channel} does not exist")
    if running:
        return Recording(call_id, channel, running, started=False)
    path = recording_path(directory, call_id)
    await ami.action({"Action": "MixMonitor", "Channel": channel, "File": path, "Options": "b"})
    return Recording(call_id, channel, path, started=True)


async def stop_recording(ami: AmiClient, channel: str) -> None:
    await ami.action({"Action": "StopMixMonitor", "Channel": channel})


_NODE_DIR = re.compile(r"^-[a-z0-9][a-z0-9-]{0,15}$")   # "-<node id>" (hotline.site NodeId)


def _directories(settings: DeskSettings, recording: str) -> tuple[str, str] | None:
    """The recording's directory as Asterisk wrote it and where the desk reads that directory.

    One node: ``settings.recordings_dir`` read at ``settings.recordings_host_dir``. A cluster node writes under its
    own instance directory, ``<instance_dir>-<node id>/spool/monitor`` (``hotline.confgen.cluster``); the desk reads
    it where the host shows that path: beside the desk's own recordings directory when that one is the same path
    (the nodes on the desk's machine) or the same path under a prefix (each node's Asterisk root, chroot). Anywhere
    else (a node on another machine whose spool is not mounted there) it is not readable: None."""
    own = settings.recordings_dir.rstrip("/")
    host = settings.recordings_host_dir.rstrip("/")
    if recording.startswith(own + "/"):
        return own, host
    if not own.endswith(_SPOOL) or not host.endswith(own):
        return None
    instance = own[: -len(_SPOOL)]
    node_dir, spool, _ = recording[len(instance):].partition(_SPOOL + "/")
    if not recording.startswith(instance) or not spool or not _NODE_DIR.match(node_dir):
        return None
    written = instance + node_dir + _SPOOL
    return written, host[: len(host) - len(own)] + written


def readable_here(settings: DeskSettings, recording: str | None) -> bool:
    """Whether the folder ``recording`` was written in is one this desk reads (``_directories``); False for a
    cluster node whose spool is not visible on the desk's machine, or no recordings directory configured."""
    return bool(recording and settings.recordings_dir and settings.recordings_host_dir
                and _directories(settings, recording) is not None)


def host_directory(settings: DeskSettings, directory: str) -> Path | None:
    """Where the desk reads the recordings directory ``directory`` (as Asterisk writes it: a node's own, on a
    cluster), by the rule of ``readable_here``; None when it is not read here. It may not exist on this machine."""
    inside = f"{directory.rstrip('/')}/_"   # a file in it: the rule is about recordings
    found = _directories(settings, inside) if readable_here(settings, inside) else None
    return Path(found[1]) if found is not None else None


def host_file(settings: DeskSettings, recording: str | None) -> Path | None:
    """Where the desk reads a recording (``calls.recording``, as Asterisk wrote it): under
    ``settings.recordings_host_dir`` (a cluster node's: see ``_directories``), or None when it is elsewhere (never
    follow a path out of that directory), not configured, or not written (yet)."""
    if not recording or not settings.recordings_dir or not settings.recordings_host_dir:
        return None
    found = _directories(settings, recording)
    if found is None:
        return None
    written, read = found
    base = Path(read).resolve()
    path = (base / recording[len(written) + 1:]).resolve()
    if base not in path.parents or not path.is_file() or path.stat().st_size <= WAV_HEADER_BYTES:
        return None   # a header and no sound: nothing was recorded (the disk was full when Asterisk opened it)
    return path
