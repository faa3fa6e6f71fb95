"""Desk settings, built once by the caller (``hotline run``, a test, a bench) and passed to ``create_app``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from typing import TYPE_CHECKING, Any

from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.tickets.deadlines import Calendar
from hotline.numberplan import SERVICE_LEVEL_SECONDS
from hotline.site import DEFAULT_PAUSE_REASONS

if TYPE_CHECKING:   # settings sit below every feature: they name the softphone type, they do not import it
    import redis
    import redis.asyncio as aioredis

    from agent_desk.supervision.warnings import WarningRule
    from agent_desk.telephony.softphone import BrowserPhones

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")  # 海南: deadlines, ticket numbers and reports use local time


@dataclass(frozen=True)
class DeskSettings:
    database_url: str
    redis_url: str
    redis_password: str | None = None
    redis_username: str | None = None   # the desk's Redis ACL user (hotline.access); None: ``default``
    token_ttl: dt.timedelta = dt.timedelta(hours=12)
    return_window: dt.timedelta = dt.timedelta(hours=24)   # 退单时限
    calendar: Calendar = field(default_factory=Calendar)
    # Login limits (agent_desk.auth.limits): failures counted in a window that starts at the first one.
    login_window: dt.timedelta = dt.timedelta(minutes=15)
    login_failures_per_user: int = 5       # per (user name, source address): then 429 for that pair only
    login_failures_per_client: int = 20    # per source address, whatever the user names
    login_failures_per_account: int = 50   # per user name across sources, except sources it signed in from
    # Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; nobody else's is.
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 256 * 1024     # larger requests get 413 before they are parsed
    cookie_secure: bool = False          # set behind TLS
    line_names: dict[str, str] = field(default_factory=dict)   # 123xx → 热线名称, from the number plan
    city_names: dict[str, str] = field(default_factory=dict)   # sub-platform code → 市县名称
    # 未诉先办 early-warning rules (supervision.warnings.WarningRule or dicts); None: its DEFAULT_RULES
    warning_rules: tuple[WarningRule | dict[str, Any], ...] | None = None
    # Call recordings: the directory as Asterisk writes it (what calls.recording holds) and where this
    # process reads it (different when Asterisk runs in its chroot). Empty: playback is unavailable.
    recordings_dir: str = ""
    recordings_host_dir: str = ""
    # The recordings watch (agent_desk.calls.recording_watch): a call's recording not grown for this long is 录音中断;
    # the recordings volume with less free space than these is 空间不足 / 已满 on the wallboard; looked at this often.
    recording_stall_seconds: float = 15.0
    recordings_low_bytes: int = 1 << 30
    recordings_full_bytes: int = 1 << 20
    recording_watch_interval: float = 2.0
    response_window: dt.timedelta = dt.timedelta(hours=24)  # 响应率: the host unit signs within this after dispatch
    service_level_seconds: int = SERVICE_LEVEL_SECONDS   # 服务水平: answered within this many seconds of queueing
    # Browser softphones (agents.webrtc): ports of Asterisk's HTTP server and the SIP secrets. None: off.
    softphone: BrowserPhones | None = None
    socket_recheck: dt.timedelta = dt.timedelta(seconds=5)   # an open WebSocket re-checks its session this often
    allowed_origins: tuple[str, ...] = ()   # pages served from elsewhere (a proxy's public name) may open sockets
    pause_reasons: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PAUSE_REASONS))  # 置忙原因 (site)
    # Suggestion models (issue 13): their folder (Paths.suggest_models; "": no background retraining), retrained
    # after this many new closed tickets (0: not for that) and nightly after this local hour (None: no schedule).
    suggest_models: str = ""
    retrain_after_closed: int = 500
    retrain_nightly_hour: int | None = 3
    callbacks: CallbackPolicy = field(default_factory=CallbackPolicy)   # 未接来电回拨 (site ``callbacks``)

    def sync_redis(self) -> redis.Redis:
        import redis
        return redis.Redis.from_url(self.redis_url, username=self.redis_username, password=self.redis_password,
                                    socket_timeout=2, socket_connect_timeout=2, decode_responses=True)

    def async_redis(self) -> aioredis.Redis:
        import redis.asyncio as aioredis
        return aioredis.from_url(self.redis_url, username=self.redis_username, password=self.redis_password,
                                 socket_timeout=5, socket_connect_timeout=2, decode_responses=True)
