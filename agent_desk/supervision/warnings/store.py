"""Where alerts live: Redis (active and acknowledged alerts) and the wallboard channel they are published on."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, cast

from redis import Redis

from agent_desk.supervision.warnings.clustering import _local

ACTIVE = "hotline:warnings:active"
ACKED = "hotline:warnings:acked"
CHANNEL = "hotline:wallboard"

# ── Redis: active alerts, acknowledgements, the wallboard channel ──────────────
Scope = Callable[[dict[str, Any]], bool]   # which stored alerts an evaluation covered (may expire)


class WarningStore:
    def __init__(self, client: Redis):
        self.client = client

    def active(self) -> list[dict[str, Any]]:
        alerts = [json.loads(v) for v in self.client.hgetall(ACTIVE).values()]
        return sorted(alerts, key=lambda a: (a["last_at"], a["id"]), reverse=True)

    def _hash(self, key: str) -> dict[str, dict[str, Any]]:
        """A hash of alerts, id → alert. The client decodes responses (``DeskSettings.sync_redis``), so ids are
        str; redis-py's typing cannot know that (it says bytes | str)."""
        return {cast(str, k): json.loads(v) for k, v in self.client.hgetall(key).items()}

    def reconcile(self, found: list[dict[str, Any]], scope: Scope, now: dt.datetime) -> list[dict[str, Any]]:
        """Store what an evaluation found, publish what changed, expire what it no longer finds.
        Returns the alerts raised or updated."""
        active, acked = self._hash(ACTIVE), self._hash(ACKED)
        _keep_ids(found, {**acked, **active})
        changed, pipe, messages = [], self.client.pipeline(transaction=False), []
        for alert in found:
            done = acked.get(alert["id"])
            if done is not None:
                if alert["count"] <= done["count"]:
                    continue  # acknowledged, and not grown since
                pipe.hdel(ACKED, alert["id"])  # grown past what was acknowledged: raised again
            before = active.get(alert["id"])
            alert["raised_at"] = before["raised_at"] if before else _local(now)
            if before and before["tickets"] == alert["tickets"]:
                continue
            pipe.hset(ACTIVE, alert["id"], json.dumps(alert, ensure_ascii=False))
            messages.append({"type": "alert", **alert})
            changed.append(alert)
        seen = {a["id"] for a in found}
        for key, alert in active.items():
            if key not in seen and scope(alert):
                pipe.hdel(ACTIVE, key)
                messages.append({"type": "alert_cleared", "id": key, "reason": "expired"})
        for key, alert in acked.items():
            if key not in seen and scope(alert):
                pipe.hdel(ACKED, key)
        for message in messages:
            pipe.publish(CHANNEL, json.dumps(message, ensure_ascii=False))
        pipe.execute()
        return changed

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.hget(ACTIVE, key)
        return json.loads(raw) if raw is not None else None

    def acknowledge(self, key: str, by: str, now: dt.datetime, note: str = "") -> dict[str, Any] | None:
        raw = self.client.hget(ACTIVE, key)
        if raw is None:
            return None
        alert: dict[str, Any] = json.loads(raw) | {"acknowledged_by": by, "acknowledged_at": _local(now), "note": note}
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(ACKED, key, json.dumps(alert, ensure_ascii=False))
            pipe.hdel(ACTIVE, key)
            pipe.publish(CHANNEL, json.dumps({"type": "alert_cleared", "id": key, "reason": "acknowledged",
                                              "acknowledged_by": by}, ensure_ascii=False))
            pipe.execute()
        return alert


def _keep_ids(found: list[dict[str, Any]], known: dict[str, dict[str, Any]]) -> None:
    """A cluster that shares tickets with a known alert of the same rule and area is that alert (it grew, or
    its oldest tickets left the window): it keeps the known id."""
    taken: set[str] = set()
    for alert in sorted(found, key=lambda a: -a["count"]):
        tickets = set(alert["tickets"])
        best = max(((len(tickets & set(k["tickets"])), key) for key, k in known.items()
                    if k["rule"] == alert["rule"] and k["area"] == alert["area"] and key not in taken),
                   default=(0, None))
        if best[0] > 0:
            alert["id"] = best[1]
        taken.add(alert["id"])
