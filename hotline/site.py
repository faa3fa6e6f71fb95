"""Site configuration: where this deployment listens and how it reaches its peers. No secrets here.

Secrets (AMI, SIP) are generated at install into the secrets directory (see ``secrets.py``);
a site file can never carry a password, so a copied config cannot leak or reuse one.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotline import yamlsource
from hotline.yamlsource import ConfigError

Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Site values end up in the Asterisk configuration: no line breaks, ';' or control characters anywhere.
    _safe = field_validator("*", mode="before")(classmethod(lambda cls, v, info: yamlsource.config_safe(v, info, cls)))


LOOPBACK = "127.0.0.1/255.255.255.255"
Network = Annotated[str, Field(pattern=r"^[0-9A-Fa-f.:]+(/[0-9A-Fa-f.:]+)?$")]


def _networks(values: list[str] | None) -> list[str] | None:
    """Each entry must be an address or network Asterisk's ACL parser accepts (a.b.c.d[/mask|/len])."""
    for value in values or []:
        address, _, mask = value.partition("/")
        ipaddress.ip_address(address)
        if mask and not mask.isdigit():
            ipaddress.ip_address(mask)
    return values


class TrunkOverride(Strict):
    """Where a transfer trunk's far end really is, and which addresses may send its calls and requests."""

    host: str | None = Field(None, pattern=r"^[A-Za-z0-9.:-]+$")
    port: Port | None = None
    permit: list[Network] | None = Field(
        None, description="networks the trunk's requests may come from; None: its host when that is an address")
    match: Network | None = Field(
        None, description="also identify the trunk by this source address/network (it must still authenticate)")

    _check = field_validator("permit")(classmethod(lambda cls, v: _networks(v)))


class Carrier(Strict):
    """The carrier trunk that delivers citizens' calls (inbound)."""

    username: str = Field("carrier", pattern=r"^[a-z0-9-]+$")
    match: Network | None = Field(
        None, description="also identify the carrier by this source IP/CIDR (it must still authenticate by digest)")
    permit: list[Network] = Field([LOOPBACK], min_length=1,
                                  description="networks the carrier's requests may come from (endpoint ACL)")
    host: str | None = Field(None, description="where to send outbound calls; None: carrier never receives calls")
    port: Port = 5060

    @field_validator("username")
    @classmethod
    def _not_anonymous(cls, value: str) -> str:
        # PJSIP hands unidentified requests to an endpoint named "anonymous": never create one.
        if value == "anonymous":
            raise ValueError("'anonymous' is PJSIP's catch-all endpoint name; choose another")
        return value

    _check = field_validator("permit")(classmethod(lambda cls, v: _networks(v)))


QueueName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,38}$")]
PauseCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]

# Why an agent is paused (置忙原因): code (sent to Asterisk as the member's PausedReason) → label on the desk.
# "after_call" (事后处理) is the agent's own extended wrap-up beyond the queue's fixed ``wrapup`` seconds.
DEFAULT_PAUSE_REASONS = {"break": "小休", "meal": "就餐", "training": "培训", "meeting": "会议",
                         "after_call": "事后处理", "coaching": "质检辅导"}


class Agents(Strict):
    """Agent softphones: PJSIP endpoints numbered first..first+count-1.

    Which queues an agent serves is data: ``queues`` for everyone, ``membership`` per extension
    (replaces ``queues`` for that agent). The login feature code and the desk's login both read it.
    """

    first: int = Field(8001, ge=1000, le=99999000)
    count: int = Field(10, ge=0, le=5000)
    permit: list[Network] = Field(["127.0.0.1/255.255.255.255"], min_length=1,
                              description="networks softphones may register and call from (and put in Contact)")
    queues: list[QueueName] = Field(["province"], description="queues every agent serves unless listed below")
    membership: dict[str, list[QueueName]] = Field({}, description="extension -> the queues that agent serves")
    webrtc: bool = Field(False,
                         description="browser softphones: WebSocket transport, DTLS-SRTP, ICE on agent endpoints")
    pause_reasons: dict[PauseCode, str] = Field(DEFAULT_PAUSE_REASONS, min_length=1,
                                                description="pause reason code -> its label (中文)")
    pause_default: PauseCode = Field("break", description="the reason of a pause without one (feature code *13)")

    @model_validator(mode="after")
    def _default_reason_known(self) -> Agents:
        if self.pause_default not in self.pause_reasons:
            raise ValueError(f"pause_default {self.pause_default!r} is not one of pause_reasons")
        return self

    def extensions(self) -> list[str]:
        return [str(self.first + i) for i in range(self.count)]

    def queues_of(self, extension: str) -> list[str]:
        return list(self.membership.get(str(extension), self.queues))


class Speech(Strict):
    """Which speech engine transcribes callers (prefill). A missing model disables prefill, not the IVR."""

    engine: Literal["whisper", "vosk", "none"] = "whisper"
    model_dir: str | None = Field(None, description="Vosk model directory; for Whisper, overrides var/models")
    threads: int = Field(2, ge=1, le=64)
    workers: int = Field(1, ge=0, le=64, description="ASR worker processes `hotline run` starts here (0: none; "
                                                     "other machines add capacity with `hotline asr worker`)")
    beam_size: int = Field(5, ge=1, le=10, description="Whisper beam width (5 measured best at 8 kHz; 1 is faster)")
    vocabulary_prompt: bool = Field(
        False, description="put the province's cities and a word per topic in Whisper's prompt: CER 0.227 → 0.209 on "
                           "the recordings, but it misheard a phoned-in 起火 as 几火 (BENCHMARKS.md)")
    revisit_by_voice: bool = Field(
        False, description="智能回访 also takes spoken answers (满意 / 没解决 / 转人工; a key still wins, anything "
                           "unclear is asked again by keys); loads the engine in each media server. Off by default: "
                           "Whisper base read 6 of 14 phrases of the synthesised test voice and got 1 wrong "
                           "(BENCHMARKS.md); use it with a Mandarin Vosk model, whose grammar restricts the answers")


class Intake(Strict):
    """How a call reaches an agent (受理方式). ``queue`` (the default; GB/T 33358: no IVR menu in front of phone
    intake): after the line's greeting the call joins its queue at once, the queue is chosen without asking (the
    caller's remembered city, else the number range of the caller ID, else the province), and the caller is
    invited to describe the matter while waiting. ``menu``: the menu, city question and description first
    (the older flow)."""

    mode: Literal["queue", "menu"] = "queue"
    lines: dict[Annotated[str, Field(pattern=r"^[0-9]{3,8}$")], Literal["queue", "menu"]] = Field(
        {}, description="per-line override of mode, e.g. {'12315': 'menu'}")
    live_transcript: bool = Field(
        True, description="listen to both sides of the call (ChanSpy legs to the media server) and transcribe "
                          "them live; off: only the menu flow's description is transcribed")
    announce_every: int = Field(30, ge=10, le=600, description="seconds between 'still in line' announcements")

    def mode_of(self, line: str) -> Literal["queue", "menu"]:
        return self.lines.get(line, self.mode)


class Retention(Strict):
    """How long personal data is kept where this stack writes it (保存期限). Housekeeping deletes older files."""

    ivr_recordings_days: int = Field(30, ge=1, le=3650, description="the callers' IVR recordings (speech prefill)")
    call_recordings_days: int = Field(180, ge=1, le=3650, description="call recordings (MixMonitor)")
    spool_days: int = Field(30, ge=1, le=3650, description="prefills and surveys spooled while Redis was down")
    survey_stream_days: int = Field(7, ge=1, le=365, description="entries in the survey stream (the desk consumes "
                                                                "them within seconds; they are stored with the call)")
    survey_stream_maxlen: int = Field(100_000, ge=1000, le=10_000_000, description="most entries in the stream")


ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class Callbacks(Strict):
    """未接来电回拨 (agent_desk.callbacks): the target, quiet hours and retries of callback tasks, and the outbound
    limit of the carrier trunk ([hotline-outbound]), shared with any later automated 回访 campaign."""

    target_minutes: int = Field(120, ge=5, le=10080, description="回拨时限: minutes of callable time (quiet hours do "
                                                                 "not count) after a caller's first missed call")
    quiet_start: ClockTime = Field("21:00", description="免打扰 from (local time): nobody is called back")
    quiet_end: ClockTime = Field("08:00", description="免打扰 until; equal to quiet_start: no quiet hours")
    attempts: int = Field(3, ge=1, le=10, description="calls that reach the citizen's phone before a task is given up")
    retry_minutes: list[Annotated[int, Field(ge=1, le=10080)]] = Field(
        [10, 30, 120], min_length=1, description="pause after the 1st, 2nd, ... unanswered or busy attempt")
    outbound_channels: int = Field(4, ge=1, le=1000,
                                   description="most simultaneous outbound calls on the carrier trunk; over it a call "
                                               "fails as trunk busy and retries")
    center_number: Annotated[str, Field(pattern=r"^[0-9]{3,12}$")] = Field(
        "12345", description="the caller ID citizens see on a callback")
    agent_ring_seconds: int = Field(30, ge=5, le=120, description="how long the agent's own phone rings first")
    citizen_ring_seconds: int = Field(40, ge=5, le=120, description="how long the citizen's phone rings")


NodeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,15}$")]


class ClusterNode(Strict):
    """One Asterisk media node of a cluster: where it listens (its own address; ports may repeat across nodes)."""

    id: NodeId
    address: str = Field(description="the node's own address (LAN, or a loopback address such as 127.0.0.2)")
    sip_port: Port = 5060
    ami_port: Port = 5038
    max_calls: int = Field(200, ge=1, le=100000, description="calls the proxy sends it at once (call-load only)")

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str) -> str:
        if ipaddress.ip_address(value).is_unspecified:
            raise ValueError("a node needs its own address, not 0.0.0.0")
        return value


class Cluster(Strict):
    """多节点集群: Kamailio in front of several Asterisk nodes. The carrier sends its calls to the proxy, which spreads
    them over the nodes that answer its SIP OPTIONS probes; each node's carrier trunk is the proxy."""

    proxy: str = Field(description="the address Kamailio listens on (the carrier sends its calls here)")
    proxy_port: Port = 5060
    proxy_dir: str = Field("/srv/hotline/kamailio", pattern=r"^/[A-Za-z0-9_./-]+$",
                           description="where Kamailio's generated files live (kamailio.cfg, dispatcher.list, "
                                       "its control socket)")
    nodes: list[ClusterNode] = Field(min_length=1)
    algorithm: Literal["round-robin", "call-load"] = Field(
        "round-robin", description="how a new call picks among healthy nodes (dispatcher 4 or 10)")
    ping_interval: int = Field(2, ge=1, le=300, description="seconds between SIP OPTIONS probes of every node")
    node_timeout_ms: int = Field(2000, ge=200, le=30000,
                                 description="a node that has not answered a request (probe or INVITE) in this time "
                                             "has failed it: the call moves to the next node")
    failed_probes: int = Field(1, ge=1, le=10, description="unanswered probes in a row that take a node out")
    answered_probes: int = Field(1, ge=1, le=10, description="answered probes in a row that bring it back")
    ws_port: Port = Field(8088, description="browser softphones (agents.webrtc): SIP over ws://proxy:ws_port/ws")
    wss_port: Port = Field(8089, description="browser softphones: SIP over wss://proxy:wss_port/ws, with the site's "
                                             "certificate (tls_certificate, else the one generated at install)")
    rpc_port: Port = Field(5071, description="the proxy's admin port: JSON-RPC over HTTP (http://proxy:rpc_port/RPC), "
                                             "where the desk asks whether an agent's phone is registered")
    rpc_permit: list[Network] = Field(
        ["127.0.0.1/255.255.255.255"], min_length=1,
        description="who may use the admin port besides the nodes: the desk's machines (loopback by default)")

    @field_validator("proxy")
    @classmethod
    def _ip(cls, value: str) -> str:
        if ipaddress.ip_address(value).is_unspecified:
            raise ValueError("the proxy needs its own address, not 0.0.0.0")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Cluster:
        ids = [node.id for node in self.nodes]
        for seen in {i for i in ids if ids.count(i) > 1}:
            raise ValueError(f"node id {seen!r} is used twice")
        sockets = [(n.address, n.sip_port) for n in self.nodes] + [(self.proxy, self.proxy_port)]
        for address, port in {s for s in sockets if sockets.count(s) > 1}:
            raise ValueError(f"{address}:{port} is used twice (SIP of the proxy and the nodes must differ)")
        tcp = [self.proxy_port, self.ws_port, self.wss_port, self.rpc_port]   # the proxy's TCP listeners
        for port in {p for p in tcp if tcp.count(p) > 1}:
            raise ValueError(f"port {port} is used twice by the proxy (proxy_port, ws_port, wss_port and rpc_port "
                             "must differ)")
        return self


class SiteConfig(Strict):
    name: str = Field("main", pattern=r"^[a-z0-9-]{1,32}$")
    bind: str = "127.0.0.1"
    ami_port: Port = 5038
    sip_port: Port = 5060
    http_port: Port = 8088
    https_port: Port = Field(8089, description="Asterisk's HTTP server over TLS (wss:// for browser softphones)")
    tls_certificate: str | None = Field(
        None, description="PEM file (certificate and key) for https_port; None: one generated at install "
                          "(self-signed; browsers must be told to trust it)")
    ami_permit: list[Network] = Field(["127.0.0.1/255.255.255.255"], min_length=1)
    agi_host: str = "127.0.0.1"
    agi_port: Port = 4573
    audiosocket_port: Port = 4574
    agi_transport: Literal["fastagi", "classic"] = Field(
        "fastagi", description="classic: Asterisk runs agi-bin/hotline-agi per call (pyst2) instead of FastAGI")
    desk_port: Port = 8000
    desk_bind: str | None = Field(None, description="where the desk listens; None: bind (loopback unless configured)")
    trusted_proxies: list[str] = Field(
        [], description="reverse proxies in front of the desk (addresses or networks, e.g. 10.0.0.5 or 10.0.0.0/24): "
                        "only a request from one of these is believed about X-Forwarded-For (login limits, audit)")
    ami_host: str | None = Field(
        None, description="where the desk reaches AMI (its own container, another machine); None: bind, or "
                          "loopback when bind is 0.0.0.0")
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///var/hotline.sqlite3"
    rtp_start: Port = 10000
    rtp_end: Port = 10999
    instance_dir: str = Field(
        "/srv/hotline/main",
        pattern=r"^/[A-Za-z0-9_./-]+$",
        description="Asterisk's directories (etc, run, log, spool, lib, sounds) as Asterisk sees them",
    )
    timezone: str = Field("Asia/Shanghai", pattern=r"^[A-Za-z0-9_+/-]{1,64}$")
    today: dt.date | None = Field(
        None, description="pin the date the dialplan uses for transition windows (testing, drills); None: the clock"
    )
    inbound_calls_per_source: int = Field(
        100, ge=1, le=100000,
        description="most calls one source address may hold in the inbound dialplan at once; more are refused "
                    "with congestion before any IVR or speech work")
    strip_prefixes: list[Annotated[str, Field(pattern=r"^\+?[0-9]{1,8}$")]] = ["+86898", "086898", "0898"]
    carrier: Carrier = Carrier()
    agents: Agents = Agents()
    speech: Speech = Speech()
    intake: Intake = Intake()
    trunk_overrides: dict[str, TrunkOverride] = {}
    retention: Retention = Retention()
    callbacks: Callbacks = Callbacks()
    warning_rules: list[dict[str, object]] | None = Field(
        None, description="未诉先办 early-warning rules (agent_desk.supervision.warnings.WarningRule, checked when the "
                          "desk starts); None: the desk's defaults")
    cluster: Cluster | None = Field(
        None, description="several Asterisk nodes behind Kamailio (`hotline cluster render`); None: one node")

    @field_validator("bind", "agi_host", "desk_bind", "ami_host")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @model_validator(mode="after")
    def _node_names_differ(self) -> SiteConfig:
        if self.cluster is not None:
            names = [self.node_name(node.id) for node in self.cluster.nodes]
            if len(set(names)) < len(names):
                raise ValueError(f"cluster.nodes: the nodes' names {names} are not all different (the site's name "
                                 "and a node id, cut to 32 characters): each names its node's Asterisk (systemname), "
                                 "which starts every call id there, so two calls could get the same id; shorten the "
                                 "name")
        return self

    def node_name(self, node_id: str) -> str:
        """A cluster node's site name: its Asterisk's ``systemname`` is ``hotline-<this>``."""
        return f"{self.name}-{node_id}"[:32]

    @property
    def system_name(self) -> str:
        """Its Asterisk's ``systemname`` (asterisk.conf), which starts every Uniqueid there, so every call id."""
        return SYSTEM_NAME.format(name=self.name)

    def node_system_name(self, node_id: str) -> str:
        """A cluster node's Asterisk ``systemname`` (the node's site ``system_name``): see ``on_node``."""
        return SYSTEM_NAME.format(name=self.node_name(node_id))

    def node_instance_dir(self, node_id: str) -> str:
        """A cluster node's instance directory (its Asterisk's etc, spool and recordings live under it)."""
        return f"{self.instance_dir}-{node_id}"

    @property
    def ami_address(self) -> str:
        """The address processes of this center reach AMI at."""
        if self.ami_host is not None:
            return self.ami_host
        return "127.0.0.1" if self.bind == "0.0.0.0" else self.bind

    @property
    def desk_address(self) -> str:
        return self.desk_bind if self.desk_bind is not None else self.bind


SYSTEM_NAME = "hotline-{name}"
_UNIQUEID_TAIL = re.compile(r"-\d+\.\d+")   # after the systemname: -<epoch>.<sequence>


def on_node(call_id: str, system_name: str) -> bool:
    """Whether ``call_id`` is a Uniqueid of the Asterisk whose ``systemname`` this is (``<systemname>-<epoch>.<n>``;
    a call's id is its inbound channel's Uniqueid). Exact: node ``n1``'s name is no prefix match for node ``n1-b``'s
    ids."""
    return call_id.startswith(system_name) and _UNIQUEID_TAIL.fullmatch(call_id, len(system_name)) is not None


def load_site(path: Path | None) -> SiteConfig:
    if path is None or not path.exists():
        return SiteConfig()
    data, source = yamlsource.load(path)
    try:
        return SiteConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(yamlsource.validation_problems(exc, source)) from None
