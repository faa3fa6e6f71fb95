"""Who may do what: the AMI users and the Redis ACL users of a center, each with its own generated secret.

AMI (manager.conf, rendered by ``hotline.confgen``):

    desk      the desk's listener and actions: no ``system``/``config``/``command`` write class, so its secret
              cannot run a shell (Originate of System/Exec) nor CLI commands; permitted from ``ami_permit``
    operator  every class, from this host only: the launcher's readiness check and the tests' harness

Redis (an ACL file; Redis 7 users with their own keys, channels and commands):

    default   the launcher/operator (secret ``redis``); the IVR and the desk never use it
    ivr       the IVR side: writes prefills and transcripts (and their channels), caller memory, the survey
              and 智能回访 streams, phrase jobs for the ASR pool and reads their replies; reads ticket progress.
              It can read nothing of the desk's (live calls, pops, wallboard).
    desk      the desk: reads prefills and transcripts (and their channels), writes ticket progress, consumes the
              survey and 智能回访 streams, reads the ASR pool's counters, and its own live state, pop channels,
              wallboard and warnings.
    asr       an ASR worker (any machine): the phrase job streams, the media servers' reply streams, the pool's
              counters and heartbeats, nothing else: it never sees a prefill, a ticket or a caller's number.

Key and channel names come from ``hotline.contracts`` (shared) and from each side's own constants, which
``tests/unit/test_access.py`` checks against the patterns here.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from hotline.contracts import asr, prefill, revisit, survey, ticket_status, transcript

# AMI
AMI_DESK_USER = "hotline"          # the desk (the user name older installs already have)
AMI_DESK_SECRET = "ami"
AMI_OPERATOR_USER = "operator"
AMI_OPERATOR_SECRET = "ami-operator"

# Redis
REDIS_ADMIN_SECRET = "redis"       # the ``default`` user: the launcher, health checks, operators
REDIS_IVR_USER, REDIS_IVR_SECRET = "ivr", "redis-ivr"
REDIS_DESK_USER, REDIS_DESK_SECRET = "desk", "redis-desk"
REDIS_ASR_USER, REDIS_ASR_SECRET = "asr", "redis-asr"
REDIS_SECRETS = [REDIS_ADMIN_SECRET, REDIS_IVR_SECRET, REDIS_DESK_SECRET, REDIS_ASR_SECRET]

CALLER_MEMORY = "hotline:caller:*"          # ivr.flow: the sub-platform a caller chose last time
DESK_KEYS = ["hotline:live:*", "hotline:wallboard*", "hotline:warnings:*"]   # agent_desk: live state, board, alerts
DESK_CHANNELS = ["hotline:pop:*", "hotline:wallboard"]                      # pops per user, the board

_PREFILL_KEYS = prefill.KEY.format(call_id="*")
_STATUS_KEYS = ticket_status.KEY.format(number="*")
_TRANSCRIPT_KEYS = transcript.KEY.format(call_id="*")
_ASR_KEYS = "hotline:asr:*"   # job streams, reply streams, counters, heartbeats (hotline.contracts.asr)

# Commands: connection basics plus what each side sends (MULTI/EXEC: redis-py pipelines with transactions).
_BASICS = "-@all +@connection -@admin -@dangerous +multi +exec +discard"
IVR_COMMANDS = (f"{_BASICS} +get +set +publish +xadd +xtrim +hgetall +expire +xread +xlen +xdel +hincrby"
                " +xinfo +xpending")
ASR_COMMANDS = (f"{_BASICS} +xadd +xtrim +xreadgroup +xread +xack +xautoclaim +xclaim +xgroup +xpending +xinfo"
                " +xlen +xdel +xrange +hincrby +hset +hget +hgetall +hdel +expire")
DESK_COMMANDS = "+@all -@dangerous -@admin -@scripting"   # many commands; the keys and channels are what is limited


@dataclass(frozen=True)
class AclUser:
    name: str
    secret: str          # the secret's name in the SecretStore
    keys: tuple[str, ...]       # ACL key selectors: "~pattern" (read and write) or "%R~pattern" (read only)
    channels: tuple[str, ...]   # "&pattern"
    commands: str

    def rule(self, password: str) -> str:
        digest = hashlib.sha256(password.encode()).hexdigest()
        return " ".join(["user", self.name, "on", f"#{digest}", "resetkeys", "resetchannels", *self.keys,
                         *self.channels, self.commands])


IVR = AclUser(
    REDIS_IVR_USER, REDIS_IVR_SECRET,
    keys=(f"~{_PREFILL_KEYS}", f"~{CALLER_MEMORY}", f"~{survey.STREAM}", f"~{revisit.STREAM}", f"%R~{_STATUS_KEYS}",
          f"~{_TRANSCRIPT_KEYS}", f"~{_ASR_KEYS}"),
    channels=(f"&{prefill.CHANNEL}", f"&{transcript.CHANNEL}"),
    commands=IVR_COMMANDS,
)
ASR = AclUser(
    REDIS_ASR_USER, REDIS_ASR_SECRET,
    keys=(f"~{_ASR_KEYS}",),
    channels=(),
    commands=ASR_COMMANDS,
)
DESK = AclUser(
    REDIS_DESK_USER, REDIS_DESK_SECRET,
    keys=(f"%R~{_PREFILL_KEYS}", f"~{_STATUS_KEYS}", f"~{survey.STREAM}", f"~{survey.REJECTED_STREAM}",
          f"~{revisit.STREAM}", f"~{revisit.REJECTED_STREAM}",
          f"%R~{_TRANSCRIPT_KEYS}", f"%R~{asr.STATS_KEY}", f"%R~{asr.WORKERS_KEY}", *(f"~{k}" for k in DESK_KEYS)),
    channels=(f"&{prefill.CHANNEL}", f"&{transcript.CHANNEL}", *(f"&{c}" for c in DESK_CHANNELS)),
    commands=DESK_COMMANDS,
)


def redis_acl(passwords: dict[str, str]) -> str:
    """The ACL file (``aclfile``) for a center's Redis: ``passwords`` maps secret names (REDIS_SECRETS) to values.
    Passwords are stored as SHA-256 only."""
    admin = hashlib.sha256(passwords[REDIS_ADMIN_SECRET].encode()).hexdigest()
    lines = [f"user default on #{admin} ~* &* +@all"]
    lines += [user.rule(passwords[user.secret]) for user in (IVR, DESK, ASR)]
    return "\n".join(lines) + "\n"


def operator_permit(bind: str) -> list[str]:
    """Where the operator's AMI logins may come from: loopback, and the host's own bind address when AMI
    listens on one (a local client connecting there has that source address)."""
    permit = ["127.0.0.1/255.255.255.255"]
    address = ipaddress.ip_address(bind)
    if not address.is_loopback and not address.is_unspecified:
        permit.append(f"{address}/{'255.255.255.255' if address.version == 4 else '128'}")
    return permit
