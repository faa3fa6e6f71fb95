"""The live wallboard (实时监控): queues, lines, sub-platforms and agents, fed by raw AMI events.

``Wallboard`` is pure: ``apply(event)`` changes state from one ``hotline.ami.AmiEvent`` (in arrival order) and
does no I/O; ``rebuild(events, now)`` replaces the live part (waiting calls, agent states) with what Asterisk
reports (QueueStatus: QueueParams/QueueMember/QueueEntry, CoreShowChannels: CoreShowChannel) after every AMI
login, and keeps today's counters; ``snapshot(now)`` is the JSON-ready view the desk publishes.

Counters (answered, abandoned, service level, handle time) are today's, in province time: they reset at local
midnight. Times are epoch seconds: Asterisk's ``Timestamp`` on each event (manager.conf timestampevents),
the injected clock for events without one.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable

from agent_desk.settings import PROVINCE_TZ
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.numberplan import SERVICE_LEVEL_SECONDS, NumberPlan
from hotline.site import DEFAULT_PAUSE_REASONS

# Agent states, in the order the page lists them.
STATES = ("idle", "ringing", "on_call", "wrapup", "paused", "unavailable", "logged_out")
STATE_LABELS = {"idle": "空闲", "ringing": "振铃", "on_call": "通话中", "wrapup": "话后整理", "paused": "暂停",
                "unavailable": "话机离线", "logged_out": "未签入"}

# Asterisk device states (QueueMember*/QueueMember Status)
_RINGING = {"6", "7"}
_IN_USE = {"2", "3", "8"}
_NOT_IN_USE = {"1"}
_UNREACHABLE = {"4", "5"}

DEFAULT_WRAPUP = 10
SNAPSHOT_KEY = "hotline:wallboard:snapshot"   # the latest snapshot (JSON); published on warnings.CHANNEL too


@dataclass
class _Stats:
    answered: int = 0
    within: int = 0            # answered within the service-level threshold
    abandoned: int = 0
    talk_seconds: int = 0
    completed: int = 0         # calls whose handle time is known (AgentComplete)

    def view(self, sums: bool = False) -> dict[str, Any]:
        """The row's figures; ``sums``: with the handle time's sums too, so several nodes' rows add up
        (``agent_desk.supervision.cluster_board``)."""
        offered = self.answered + self.abandoned
        row = {"answered": self.answered, "abandoned": self.abandoned, "answered_within": self.within,
               "service_level": round(self.within / offered, 4) if offered else None,
               "avg_handle_seconds": round(self.talk_seconds / self.completed, 1) if self.completed else None}
        if sums:
            row.update(talk_seconds=self.talk_seconds, completed=self.completed)
        return row


@dataclass
class _Waiting:
    queue: str
    since: float
    call_id: str
    line: str
    subplatform: str


@dataclass
class _Agent:
    interface: str
    name: str
    queues: set[str] = field(default_factory=set)
    phase: str = "idle"        # idle | ringing | on_call | wrapup: where the agent is in a queue call
    device: str = "1"
    paused: bool = False
    reason: str = ""
    wrapup_until: float = 0.0
    call_id: str = ""
    connected_at: float = 0.0
    state: str = "logged_out"
    since: float = 0.0

    @property
    def extension(self) -> str:
        return self.interface.split("/", 1)[1] if "/" in self.interface else self.interface

    def display(self, now: float) -> str:
        if not self.queues:
            return "logged_out"
        if self.phase in ("on_call", "ringing"):
            return self.phase
        if self.device in _UNREACHABLE:
            return "unavailable"
        if self.paused:
            return "paused"
        if self.phase == "wrapup" and now < self.wrapup_until:
            return "wrapup"
        return "idle"


def _stamp(event: AmiEvent) -> float | None:
    try:
        return float(event.get("Timestamp"))
    except ValueError:
        return None


def _int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


class Wallboard:
    def __init__(self, queues: dict[str, tuple[str, int]], *, service_level_seconds: int = SERVICE_LEVEL_SECONDS,
                 line_names: dict[str, str] | None = None, city_names: dict[str, str] | None = None,
                 main_queues: Iterable[str] = (), pause_reasons: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.time):
        """``queues``: Asterisk queue name → (Chinese name, wrap-up seconds); ``main_queues`` are always shown;
        ``pause_reasons``: the site's pause reason code → label (置忙原因)."""
        self.queues = dict(queues)
        self.pause_reasons = dict(pause_reasons or DEFAULT_PAUSE_REASONS)
        self.main_queues = list(main_queues) or list(self.queues)
        self.service_level_seconds = service_level_seconds
        self.line_names, self.city_names = dict(line_names or {}), dict(city_names or {})
        self.clock = clock
        self.connected = False
        self.day: dt.date | None = None
        self.stats: dict[tuple[str, str], _Stats] = {}
        self.waiting: dict[str, _Waiting] = {}          # caller channel Uniqueid → waiting call
        self.agents: dict[str, _Agent] = {}             # interface → agent
        self.first_join: dict[str, float] = {}          # call id → when it first joined a queue (overflow)
        self.version = 0                                # bumped on every change the board shows
        self.last_rebuild: float | None = None

    @classmethod
    def from_plan(cls, plan: NumberPlan, service_level_seconds: int = SERVICE_LEVEL_SECONDS,
                  **kwargs: Any) -> Wallboard:
        return cls({name: (q.name, q.wrapup) for name, q in plan.all_queues().items()},
                   service_level_seconds=service_level_seconds,
                   line_names={line.number: getattr(line, "name", "") for line in plan.lines},
                   city_names={sp.code: sp.name for sp in plan.subplatforms},
                   main_queues=list(plan.queues), **kwargs)

    # ── events ───────────────────────────────────────────────────────────────
    def apply(self, event: AmiEvent) -> bool:
        """Apply one AMI event; True when the board changed."""
        handler = self._HANDLERS.get(event.name)
        if handler is None:
            return False
        ts = _stamp(event) or self.clock()
        self._roll(ts)
        changed = handler(self, event, ts)
        if changed is not False:
            self.version += 1
            return True
        return False

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.version += 1

    def _on_join(self, e: AmiEvent, ts: float) -> None:
        call_id = e.vars.get(v.CALL_ID) or e.get("Linkedid") or e.get("Uniqueid")
        self.waiting[e.get("Uniqueid")] = _Waiting(e.get("Queue"), ts, call_id, e.vars.get(v.LINE, ""),
                                                   e.vars.get(v.SUBPLATFORM, ""))
        self.first_join.setdefault(call_id, ts)
        self.stats.setdefault(("queue", e.get("Queue")), _Stats())   # listed today, even if it overflowed on

    def _on_leave(self, e: AmiEvent, ts: float) -> bool:
        return self.waiting.pop(e.get("Uniqueid"), None) is not None

    def _on_abandon(self, e: AmiEvent, ts: float) -> None:
        waiting = self.waiting.pop(e.get("Uniqueid"), None)
        call_id = e.vars.get(v.CALL_ID) or (waiting.call_id if waiting else e.get("Linkedid"))
        self.first_join.pop(call_id, None)
        for stats in self._groups(e.get("Queue"), *self._line_sp(e, waiting)):
            stats.abandoned += 1

    def _on_called(self, e: AmiEvent, ts: float) -> None:
        agent = self._agent(e.get("Interface"), e.get("MemberName"))
        if agent.phase != "on_call":
            agent.phase = "ringing"
            agent.call_id = e.vars.get(v.CALL_ID) or e.get("Linkedid")
        self._settle(agent, ts)

    def _on_ring_no_answer(self, e: AmiEvent, ts: float) -> None:
        agent = self._agent(e.get("Interface"), e.get("MemberName"))
        if agent.phase == "ringing":
            agent.phase, agent.call_id = "idle", ""
        self._settle(agent, ts)

    def _on_connect(self, e: AmiEvent, ts: float) -> None:
        waiting = self.waiting.pop(e.get("Uniqueid"), None)
        call_id = e.vars.get(v.CALL_ID) or (waiting.call_id if waiting else e.get("Linkedid"))
        queue_wait = _int(e.get("HoldTime"))
        first = self.first_join.pop(call_id, None)
        total_wait = max(queue_wait, ts - first) if first is not None else queue_wait
        line, sp = self._line_sp(e, waiting)
        for kind, stats in zip(("queue", "line", "subplatform", "total"), self._groups(e.get("Queue"), line, sp)):
            stats.answered += 1
            if (queue_wait if kind == "queue" else total_wait) <= self.service_level_seconds:
                stats.within += 1
        agent = self._agent(e.get("Interface"), e.get("MemberName"))
        agent.phase, agent.call_id, agent.connected_at = "on_call", call_id, ts
        self._settle(agent, ts)

    def _on_complete(self, e: AmiEvent, ts: float) -> None:
        agent = self._agent(e.get("Interface"), e.get("MemberName"))
        talk = e.get("TalkTime")
        seconds = _int(talk) if talk else int(ts - agent.connected_at) if agent.connected_at else 0
        for stats in self._groups(e.get("Queue"), *self._line_sp(e, None)):
            stats.talk_seconds += max(0, seconds)
            stats.completed += 1
        wrapup = self.queues.get(e.get("Queue"), ("", DEFAULT_WRAPUP))[1]
        agent.phase, agent.call_id, agent.connected_at = "wrapup", "", 0.0
        agent.wrapup_until = ts + wrapup
        self._settle(agent, ts)

    def _on_member(self, e: AmiEvent, ts: float) -> None:
        """QueueMemberAdded / QueueMemberStatus / QueueMemberPause: membership, device state, pause."""
        agent = self._agent(e.get("Interface"), e.get("MemberName"))
        agent.queues.add(e.get("Queue"))
        status = e.get("Status") or agent.device
        agent.device = status
        agent.paused = e.get("Paused") == "1"
        agent.reason = e.get("PausedReason") if agent.paused else ""
        if status in _RINGING and agent.phase != "on_call":
            agent.phase = "ringing"
        elif status in _IN_USE:
            agent.phase = "on_call"
        elif status in _NOT_IN_USE | _UNREACHABLE and agent.phase in ("ringing", "on_call"):
            agent.phase, agent.call_id = "idle", ""   # AgentComplete, right after, starts the wrap-up
        self._settle(agent, ts)

    def _on_removed(self, e: AmiEvent, ts: float) -> None:
        agent = self._agent(e.get("Interface"), e.get("MemberName"))
        agent.queues.discard(e.get("Queue"))
        if not agent.queues:
            agent.phase, agent.paused, agent.reason, agent.call_id = "idle", False, "", ""
        self._settle(agent, ts)

    def _on_hangup(self, e: AmiEvent, ts: float) -> bool:
        # The inbound channel ended: forget when it first queued (a caller who left the queues some other way).
        call_id = e.vars.get(v.CALL_ID)
        if call_id and call_id == e.get("Uniqueid"):
            self.first_join.pop(call_id, None)
        return False

    def _on_shutdown(self, e: AmiEvent, ts: float) -> bool:
        changed = self.connected
        self.connected = False
        return changed

    _HANDLERS: dict[str, Callable[[Wallboard, AmiEvent, float], bool | None]] = {
        "QueueCallerJoin": _on_join, "QueueCallerLeave": _on_leave, "QueueCallerAbandon": _on_abandon,
        "AgentCalled": _on_called, "AgentRingNoAnswer": _on_ring_no_answer, "AgentConnect": _on_connect,
        "AgentComplete": _on_complete, "QueueMemberAdded": _on_member, "QueueMemberStatus": _on_member,
        "QueueMemberPause": _on_member, "QueueMemberRemoved": _on_removed, "Hangup": _on_hangup,
        "Shutdown": _on_shutdown,
    }

    # ── rebuild from Asterisk ────────────────────────────────────────────────
    def rebuild(self, events: Iterable[AmiEvent], now: float | None = None) -> None:
        """Replace waiting calls and agent states with what QueueStatus + CoreShowChannels report; today's
        counters stay (they are the day's history, not live state)."""
        now = self.clock() if now is None else now
        self._roll(now)
        events = list(events)
        channel_vars = {e.get("Uniqueid"): e.vars for e in events if e.name == "CoreShowChannel"}
        waiting: dict[str, _Waiting] = {}
        for e in events:
            if e.name != "QueueEntry":
                continue
            vars_ = channel_vars.get(e.get("Uniqueid"), {})
            call_id = vars_.get(v.CALL_ID) or e.get("Uniqueid")
            since = now - _int(e.get("Wait"))
            waiting[e.get("Uniqueid")] = _Waiting(e.get("Queue"), since, call_id, vars_.get(v.LINE, ""),
                                                  vars_.get(v.SUBPLATFORM, ""))
            self.first_join.setdefault(call_id, since)
        self.waiting = waiting
        members: dict[str, list[AmiEvent]] = {}
        for e in events:
            if e.name == "QueueMember":
                members.setdefault(e.get("Location") or e.get("Interface"), []).append(e)
        for interface in set(self.agents) - set(members):
            agent = self.agents[interface]
            agent.queues, agent.phase, agent.paused, agent.reason, agent.call_id = set(), "idle", False, "", ""
            self._settle(agent, now)
        for interface, rows in members.items():
            first = rows[0]
            agent = self._agent(interface, first.get("Name") or first.get("MemberName"))
            agent.queues = {r.get("Queue") for r in rows}
            agent.device = first.get("Status")
            agent.paused = any(r.get("Paused") == "1" for r in rows)
            agent.reason = next((r.get("PausedReason") for r in rows if r.get("Paused") == "1"), "")
            last_call = max(_int(r.get("LastCall")) for r in rows)
            wrapup = max(self.queues.get(r.get("Queue"), ("", DEFAULT_WRAPUP))[1] for r in rows)
            if any(r.get("InCall") == "1" for r in rows) or agent.device in _IN_USE:
                agent.phase = "on_call"
            elif agent.device in _RINGING:
                agent.phase = "ringing"
            elif last_call and last_call + wrapup > now:
                agent.phase, agent.wrapup_until = "wrapup", float(last_call + wrapup)
            else:
                agent.phase = "idle"
            if agent.phase not in ("on_call", "ringing"):
                agent.call_id = ""
            last_pause = max(_int(r.get("LastPause")) for r in rows)
            self._settle(agent, float(last_pause) if agent.paused and last_pause and agent.state != "paused" else now)
        self.connected = True
        self.last_rebuild = now
        self.version += 1

    # ── the view ─────────────────────────────────────────────────────────────
    def snapshot(self, now: float | None = None, sums: bool = False) -> dict[str, Any]:
        """The board as the desk serves it; ``sums``: one node's part of a cluster's board, each row with the
        sums its averages come from (``agent_desk.supervision.cluster_board.merge`` adds the nodes' parts)."""
        now = self.clock() if now is None else now
        self._roll(now)
        for agent in self.agents.values():
            self._settle(agent, now)
        by_queue: dict[str, list[_Waiting]] = {}
        by_line: dict[str, list[_Waiting]] = {}
        by_sp: dict[str, list[_Waiting]] = {}
        for w in self.waiting.values():
            by_queue.setdefault(w.queue, []).append(w)
            if w.line:
                by_line.setdefault(w.line, []).append(w)
            if w.subplatform:
                by_sp.setdefault(w.subplatform, []).append(w)
        agents_by_queue: dict[str, dict[str, int]] = {}
        for agent in self.agents.values():
            for queue in agent.queues:
                counts = agents_by_queue.setdefault(queue, {})
                counts[agent.state] = counts.get(agent.state, 0) + 1

        def row(kind: str, key: str, waits: list[_Waiting]) -> dict[str, Any]:
            oldest = min((w.since for w in waits), default=None)
            return {"waiting": len(waits), "oldest_since": oldest,
                    "longest_wait": int(now - oldest) if oldest is not None else 0,
                    **self.stats.get((kind, key), _Stats()).view(sums)}

        queue_keys = list(self.main_queues) + sorted(
            {q for q in (*by_queue, *(k for kind, k in self.stats if kind == "queue"), *agents_by_queue)
             if q not in self.main_queues})
        queues = [{"queue": q, "name": self.queues.get(q, (q, 0))[0], **row("queue", q, by_queue.get(q, [])),
                   "agents": agents_by_queue.get(q, {})} for q in queue_keys]
        line_keys = sorted({*by_line, *(k for kind, k in self.stats if kind == "line")})
        lines = [{"line": n, "name": self.line_names.get(n, ""), **row("line", n, by_line.get(n, []))}
                 for n in line_keys]
        sp_keys = sorted({*by_sp, *(k for kind, k in self.stats if kind == "subplatform")})
        subplatforms = [{"code": c, "name": self.city_names.get(c, c), **row("subplatform", c, by_sp.get(c, []))}
                        for c in sp_keys]
        agents = sorted(self.agents.values(), key=lambda a: (a.extension.zfill(8), a.interface))
        states = {s: 0 for s in STATES}
        for agent in agents:
            states[agent.state] += 1
        return {
            "type": "snapshot",
            "version": self.version,
            "now": round(now, 3),
            "generated_at": dt.datetime.fromtimestamp(now, PROVINCE_TZ).isoformat(timespec="seconds"),
            "day": (self.day or dt.datetime.fromtimestamp(now, PROVINCE_TZ).date()).isoformat(),
            "connected": self.connected,
            "service_level_seconds": self.service_level_seconds,
            "totals": row("total", "", list(self.waiting.values())),
            "queues": queues,
            "lines": lines,
            "subplatforms": subplatforms,
            "agent_states": states,
            "agents": [{"interface": a.interface, "extension": a.extension, "name": a.name, "state": a.state,
                        "state_label": STATE_LABELS[a.state], "since": round(a.since, 3),
                        "paused": a.paused, "reason": a.reason,
                        "reason_label": self.pause_reasons.get(a.reason, a.reason) if a.reason else "",
                        "queues": sorted(a.queues), "call_id": a.call_id,
                        "wrapup_until": round(a.wrapup_until, 3) if a.state == "wrapup" else None}
                       for a in agents],
            "nodes": [],   # a single node; a cluster's board lists its nodes (cluster_board.merge)
        }

    # ── helpers ──────────────────────────────────────────────────────────────
    def _roll(self, ts: float) -> None:
        """A new day in province time: today's counters start again from zero."""
        day = dt.datetime.fromtimestamp(ts, PROVINCE_TZ).date()
        if self.day is None:
            self.day = day
        elif day > self.day:
            self.day = day
            self.stats.clear()
            self.version += 1

    def _agent(self, interface: str, name: str) -> _Agent:
        agent = self.agents.get(interface)
        if agent is None:
            agent = self.agents[interface] = _Agent(interface, name or interface)
        elif name:
            agent.name = name
        return agent

    def _settle(self, agent: _Agent, ts: float) -> None:
        """Recompute the agent's shown state; ``since`` moves only when it changes (a finished wrap-up
        became idle when it ended, not when someone looked)."""
        if agent.phase == "wrapup" and ts >= agent.wrapup_until:
            agent.phase = "idle"
            if agent.state == "wrapup":
                agent.state, agent.since = agent.display(ts), agent.wrapup_until
        state = agent.display(ts)
        if state != agent.state:
            agent.state, agent.since = state, ts

    @staticmethod
    def _line_sp(e: AmiEvent, waiting: _Waiting | None) -> tuple[str, str]:
        line = e.vars.get(v.LINE) or (waiting.line if waiting else "")
        sp = e.vars.get(v.SUBPLATFORM) or (waiting.subplatform if waiting else "")
        return line, sp

    def _groups(self, queue: str, line: str, subplatform: str) -> list[_Stats]:
        keys = [("queue", queue), ("line", line), ("subplatform", subplatform), ("total", "")]
        out = []
        for kind, key in keys:
            if kind != "total" and not key:
                out.append(_Stats())   # counted nowhere: the call has no line / sub-platform
                continue
            out.append(self.stats.setdefault((kind, key), _Stats()))
        return out
