"""The ASR worker pool as the wallboard shows it (转写服务): how many workers are alive, what the pool did in the
last minute, and whether it is shedding transcription (转写繁忙).

The workers keep two hashes in Redis (``hotline.contracts.asr``): ``STATS_KEY``, counters since the pool began
(jobs, ok, shed, lost, failed), and ``WORKERS_KEY``, worker name → its last heartbeat
``{"at": epoch seconds, "done": n, "busy": bool}``. Counters only ever grow, so what happened "in the last
interval" is their difference from an earlier reading: the desk keeps its readings of the last few minutes
under ``SAMPLES_KEY`` (a key of the desk's own, shared by every desk process), one at most every
``SAMPLE_EVERY`` seconds, and compares with the newest that is at least ``INTERVAL`` old (or the oldest it has,
saying how long that covers).

States (``hotline.vocab.AsrState``, shared with the agent's page), first that applies:

- ``absent`` 未接入: no worker ever reported and no counter exists (the centre runs without the pool);
- ``offline`` 转写中断: no worker's heartbeat is younger than ``ALIVE_SECONDS``;
- ``busy`` 转写繁忙: phrases were shed (answered ``shed`` instead of transcribed) in the interval; the pool
  is overloaded and agents' pages get fewer words (the waiting caller's description is shed last);
- ``normal`` 转写正常.

``view`` is pure (readings in, the board's view and the readings to keep out); ``read`` does the Redis part.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from hotline.contracts import asr
from hotline.vocab import AsrCounter, AsrState

log = logging.getLogger(__name__)

COUNTERS = tuple(str(c) for c in AsrCounter)   # jobs, ok, shed, lost, failed
STATES = tuple(str(s) for s in AsrState)       # absent, offline, busy, normal
STATE_LABELS = AsrState.labels()
SAMPLES_KEY = "hotline:wallboard:asr-samples"   # the desk's readings of the counters (JSON list)
ALIVE_SECONDS = 30.0      # a worker whose last heartbeat is older is gone
INTERVAL = 60.0           # "the last interval": what the pool did in about the last minute
SAMPLE_EVERY = 5.0        # at most one reading kept per this many seconds
KEEP = 3 * INTERVAL       # readings older than this are dropped

Sample = dict[str, float]   # {"at": epoch seconds, counter: value, ...}


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def counters(stats: dict[str, str]) -> dict[str, int]:
    return {name: int(_number(stats.get(name, 0))) for name in COUNTERS}


def workers_view(workers: dict[str, str], now: float) -> dict[str, int]:
    """How many workers reported, how many are alive (a heartbeat within ``ALIVE_SECONDS``), how many of those
    are busy with a phrase right now. A heartbeat that cannot be read counts as a worker not alive."""
    alive = busy = 0
    for name, raw in workers.items():
        try:
            beat = json.loads(raw)
            at, is_busy = float(beat["at"]), bool(beat.get("busy", False))
        except (ValueError, TypeError, KeyError):
            log.warning("ASR worker %s: heartbeat not readable: %.80s", name, raw)
            continue
        if now - at <= ALIVE_SECONDS:
            alive += 1
            busy += is_busy
    return {"known": len(workers), "alive": alive, "busy": busy}


def _baseline(samples: list[Sample], now: float) -> Sample | None:
    """The newest reading at least ``INTERVAL`` old, else the oldest there is (a shorter interval)."""
    earlier = [s for s in samples if s["at"] < now]
    if not earlier:
        return None
    old = [s for s in earlier if s["at"] <= now - INTERVAL]
    return max(old, key=lambda s: s["at"]) if old else min(earlier, key=lambda s: s["at"])


def view(stats: dict[str, str], workers: dict[str, str], samples: list[Sample],
         now: float) -> tuple[dict[str, Any], list[Sample]]:
    """The board's view of the pool, and the readings to keep (this one added when the last is old enough)."""
    totals = counters(stats)
    pool = workers_view(workers, now)
    base = _baseline(samples, now)
    interval: dict[str, Any] | None = None
    if base is not None:
        # A counter lower than before: the hash was reset (Redis restarted empty); count from zero.
        interval = {name: totals[name] - int(base.get(name, 0)) if totals[name] >= base.get(name, 0) else totals[name]
                    for name in COUNTERS}
        interval["seconds"] = round(now - base["at"], 1)
    if not pool["known"] and not any(stats.get(name) for name in COUNTERS):
        state = "absent"
    elif not pool["alive"]:
        state = "offline"
    elif interval is not None and interval["shed"] > 0:
        state = "busy"
    else:
        state = "normal"
    keep = [s for s in samples if now - KEEP <= s["at"] < now]
    if not keep or now - max(s["at"] for s in keep) >= SAMPLE_EVERY:
        keep.append({"at": now, **{name: float(totals[name]) for name in COUNTERS}})
    return {"state": state, "state_label": STATE_LABELS[state], "at": round(now, 3), "workers": pool,
            "totals": totals, "interval": interval}, keep


def _samples(raw: str | None) -> list[Sample]:
    try:
        data = json.loads(raw) if raw else []
        return [{k: float(v) for k, v in s.items()} for s in data if isinstance(s, dict) and "at" in s]
    except (ValueError, TypeError, AttributeError):
        return []


def read(client: redis.Redis, now: float | None = None) -> dict[str, Any]:
    """Read the pool's hashes and the desk's earlier readings, store the readings to keep, return the view.
    Raises ``redis.RedisError`` when Redis cannot be read."""
    now = time.time() if now is None else now
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(asr.STATS_KEY)
        pipe.hgetall(asr.WORKERS_KEY)
        pipe.get(SAMPLES_KEY)
        stats, workers, raw = pipe.execute()
    board, keep = view(stats or {}, workers or {}, _samples(raw), now)
    client.set(SAMPLES_KEY, json.dumps(keep, separators=(",", ":")), ex=int(2 * KEEP))
    return board
