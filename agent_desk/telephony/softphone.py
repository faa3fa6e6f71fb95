"""Browser softphones (网页电话): what the agent page needs to register the agent's own extension over WebRTC.

With ``agents.webrtc: true`` the agent endpoints accept SIP over a WebSocket on Asterisk's HTTP server. The
page asks the desk (``GET /api/softphone``, audited) for its extension, SIP password and the socket to use:
``ws://`` on the HTTP port when the page itself came over plain HTTP (browsers allow microphones there only
on 127.0.0.1/localhost), ``wss://`` on the HTTPS port when it came over HTTPS (mixed content is refused).
The socket's host is the one the browser used to reach the desk: the desk and Asterisk share the box.
In a cluster (``site.cluster``) the browser registers with the proxy instead: its address and WebSocket ports
(``for_site``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from hotline.secrets import SecretStore
from hotline.site import SiteConfig

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})$")


class Credentials(TypedDict):
    """What a browser softphone registers with."""

    extension: str
    uri: str
    password: str
    socket: str


@dataclass(frozen=True)
class BrowserPhones:
    http_port: int
    https_port: int
    secrets_dir: Path
    host: str | None = None   # where the browser registers; None: the host the page came from

    @classmethod
    def for_site(cls, site: SiteConfig, secrets_dir: Path) -> BrowserPhones:
        """One node: Asterisk's HTTP server; a cluster: the proxy's WebSocket ports (多节点集群)."""
        if site.cluster is None:
            return cls(site.http_port, site.https_port, secrets_dir)
        proxy = site.cluster.proxy
        return cls(site.cluster.ws_port, site.cluster.wss_port, secrets_dir, f"[{proxy}]" if ":" in proxy else proxy)

    def credentials(self, extension: str, host: str, secure: bool) -> Credentials:
        """The registration details of ``extension`` for a page served from ``host`` (https if ``secure``)."""
        if not _HOST.match(host):
            raise ValueError(f"not a host name: {host!r}")
        host = self.host or host
        socket = f"wss://{host}:{self.https_port}/ws" if secure else f"ws://{host}:{self.http_port}/ws"
        return {
            "extension": extension,
            "uri": f"sip:{extension}@{host}",
            "password": SecretStore(self.secrets_dir).get(f"sip-agent-{extension}"),
            "socket": socket,
        }
