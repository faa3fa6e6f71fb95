"""One wallboard over a cluster's nodes (多节点集群, issue 15): the nodes' parts merged into the board the desk serves.

Each node's listener keeps its own ``Wallboard`` (Asterisk queues are per node) and writes its part,
``Wallboard.snapshot(sums=True)``, to ``node_key(node)``; ``merge`` makes the cluster's board from the latest parts:

- waiting calls per queue, line and sub-platform are summed; the longest wait is the oldest caller's over all nodes;
- today's counters are summed and the rates recomputed from the sums (service level = answered within the
  threshold ÷ (answered + abandoned) over the cluster, handle time = talk seconds ÷ completed calls), never averaged;
- an agent has one state: on a call on any node is 通话中, else ringing on any is 振铃, then 话后整理, 暂停, 空闲;
- a node whose listener has lost its AMI, or whose part is older than ``STALE_SECONDS`` (its listener is gone), is
  节点离线: its waiting calls and agent states leave the board (calls on a node that died are lost), its counters
  of today stay (those calls happened). When it comes back its listener rebuilds its part from Asterisk.

``merge`` is pure (no I/O, the clock passed in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, STATE_LABELS, STATES

STALE_SECONDS = 5.0   # a node's part not refreshed for this long: its listener is gone (parts come every second)
NODE_LABELS = {True: "在线", False: "节点离线"}
# Which of an agent's states on several nodes the board shows: the first in this order.
PRECEDENCE = ("on_call", "ringing", "wrapup", "paused", "idle", "unavailable", "logged_out")
COUNTERS = ("answered", "abandoned", "answered_within", "talk_seconds", "completed")

assert set(PRECEDENCE) == set(STATES)


def node_key(node: str) -> str:
    """Where a node's listener keeps its part of the board."""
    return f"{SNAPSHOT_KEY}:{node}"


def online(part: Mapping[str, Any] | None, now: float, stale_seconds: float = STALE_SECONDS) -> bool:
    return part is not None and bool(part.get("connected")) and now - float(part["now"]) <= stale_seconds


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    offered = row["answered"] + row["abandoned"]
    return {"service_level": round(row["answered_within"] / offered, 4) if offered else None,
            "avg_handle_seconds": round(row["talk_seconds"] / row["completed"], 1) if row["completed"] else None}


class _Rows:
    """One table of the board (queues, lines, sub-platforms or the totals), keyed, in first-seen order."""

    def __init__(self, key: str):
        self.key, self.rows = key, {}   # type: ignore[var-annotated]

    def add(self, row: Mapping[str, Any], live: bool, today: bool) -> dict[str, Any]:
        merged = self.rows.get(row[self.key] if self.key else "")
        if merged is None:
            merged = {k: val for k, val in row.items() if k not in (*COUNTERS, "waiting", "oldest_since",
                                                                  "longest_wait")}
            merged.update({c: 0 for c in COUNTERS}, waiting=0, oldest_since=None)
            self.rows[row[self.key] if self.key else ""] = merged
        if live:
            merged["waiting"] += row["waiting"]
            if row["oldest_since"] is not None and (merged["oldest_since"] is None
                                                    or row["oldest_since"] < merged["oldest_since"]):
                merged["oldest_since"] = row["oldest_since"]
        if today:
            for counter in COUNTERS:
                merged[counter] += row.get(counter, 0)
        return merged

    def view(self, now: float, order: list[str] | None = None) -> list[dict[str, Any]]:
        keys = order if order is not None else list(self.rows)
        out = []
        for key in keys:
            row = dict(self.rows[key])
            oldest = row["oldest_since"]
            row["longest_wait"] = int(now - oldest) if oldest is not None else 0
            row.update(_rates(row))
            for counter in ("talk_seconds", "completed"):
                del row[counter]
            out.append(row)
        return out


def _agent(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One agent's rows on the online nodes → the one the board shows (``PRECEDENCE``)."""
    shown = dict(min(rows, key=lambda r: PRECEDENCE.index(r["state"])))
    paused = [r for r in rows if r["paused"]]
    shown["queues"] = sorted({q for r in rows for q in r["queues"]})
    shown["paused"] = bool(paused)
    shown["reason"] = paused[0]["reason"] if paused else ""
    shown["reason_label"] = paused[0]["reason_label"] if paused else ""
    shown["state_label"] = STATE_LABELS[shown["state"]]
    return shown


def merge(parts: Mapping[str, Mapping[str, Any] | None], now: float, service_level_seconds: int,
          stale_seconds: float = STALE_SECONDS) -> dict[str, Any]:
    """The cluster's board from each node's latest part (node id → ``Wallboard.snapshot(sums=True)``, or None for
    a node never heard of), at ``now`` (epoch seconds): the shape ``Wallboard.snapshot()`` has, plus ``nodes``."""
    day = dt.datetime.fromtimestamp(now, PROVINCE_TZ).date()
    queues, lines, subplatforms, totals = _Rows("queue"), _Rows("line"), _Rows("code"), _Rows("")
    agents: dict[str, list[Mapping[str, Any]]] = {}
    nodes, version = [], 0
    for node, part in parts.items():
        live = online(part, now, stale_seconds)
        nodes.append({"node": node, "online": live, "state_label": NODE_LABELS[live],
                      "seen_at": round(float(part["now"]), 3) if part is not None else None})
        if part is None:
            continue
        version += int(part["version"])
        today = part["day"] == day.isoformat()
        for table, rows in ((queues, part["queues"]), (lines, part["lines"]), (subplatforms, part["subplatforms"])):
            for row in rows:
                table.add(row, live, today)
        totals.add(part["totals"], live, today)
        if live:
            for agent in part["agents"]:
                agents.setdefault(agent["interface"], []).append(agent)
    shown = sorted((_agent(rows) for rows in agents.values()),
                   key=lambda a: (a["extension"].zfill(8), a["interface"]))
    states = {s: 0 for s in STATES}
    by_queue: dict[str, dict[str, int]] = {}
    for agent in shown:
        states[agent["state"]] += 1
        for queue in agent["queues"]:
            counts = by_queue.setdefault(queue, {})
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
    for key, row in queues.rows.items():   # a node lists every queue its agents are in: no count is left out
        row["agents"] = by_queue.get(key, {})
    if not totals.rows:
        totals.add({"waiting": 0, "oldest_since": None}, False, False)
    return {
        "type": "snapshot",
        "version": version,
        "now": round(now, 3),
        "generated_at": dt.datetime.fromtimestamp(now, PROVINCE_TZ).isoformat(timespec="seconds"),
        "day": day.isoformat(),
        "connected": any(n["online"] for n in nodes),
        "service_level_seconds": service_level_seconds,
        "totals": totals.view(now)[0],
        "queues": queues.view(now),
        "lines": lines.view(now, sorted(lines.rows)),
        "subplatforms": subplatforms.view(now, sorted(subplatforms.rows)),
        "agent_states": states,
        "agents": shown,
        "nodes": nodes,
    }
