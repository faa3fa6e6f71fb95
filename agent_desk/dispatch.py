"""Which unit should handle a matter: the direct-dispatch list first, then the dispatch catalogue.

直派清单 (direct dispatch, "属事优先"): listed matters, recognised by keywords in the description, go
straight to a named unit. 派单目录 (catalogue, "谁主管谁负责"): the host unit of a topic in the caller's
city/county. Rules for the caller's sub-platform win over province-wide ones for the same matter; with no
sub-platform known only province-wide rules apply. Both lists are data (agent_desk/data/dispatch.yaml,
loaded by agent_desk/seed.py). These are suggestions: the agent decides.

The rules are read on every suggestion (every few words of a live transcript), and change only when reference
data is reloaded: they are kept in memory per database, per sub-platform, as plain values. Any write to
``DispatchRule`` or ``OrgUnit`` through a session of this process (a flush, a commit, a bulk UPDATE/DELETE)
forgets them; a write by another process (``hotline desk seed`` beside a running desk) is seen within
``CACHE_SECONDS``. Whether a unit is still active is not taken from here: the suggestion service checks the org
tree at answer time.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, joinedload

from agent_desk.db.models import DispatchRule, OrgUnit
from hotline.reference import topic_names

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Suggestion:
    unit_id: int
    unit_code: str
    unit_name: str
    source: str          # "direct" (直派清单) | "catalogue" (派单目录)
    why: str             # for the agent: what matched, and the duty it rests on
    keywords: tuple[str, ...] = ()  # the direct-list keywords found in the text


def suggest_units(session: Session, topic_code: str | None, subplatform: str | None,
                  text: str = "") -> list[Suggestion]:
    """Units for a matter of ``topic_code`` in ``subplatform`` described by ``text``, best first, each once."""
    local = _prefer_local(_rules(session, subplatform))

    direct = []
    for rule in local:
        found = tuple(k for k in rule.keywords if k in text) if rule.kind == "direct" and text else ()
        if found:
            direct.append((len(found), rule, found))
    direct.sort(key=lambda item: -item[0])  # stable: equal hit counts keep the file's order
    suggestions = [_suggestion(rule, "direct", f"直派清单：描述中有“{'、'.join(found)}”。{rule.basis}", found)
                   for _, rule, found in direct]
    topic = topic_names().get(topic_code or "", topic_code or "")   # people read the name, not the code
    suggestions += [_suggestion(rule, "catalogue", f"派单目录（{topic}）：{rule.basis}")
                    for rule in local if rule.kind == "catalogue" and rule.topic == topic_code]

    seen: set[int] = set()
    unique = []
    for suggestion in suggestions:
        if suggestion.unit_id not in seen:
            seen.add(suggestion.unit_id)
            unique.append(suggestion)
    return unique


@dataclass(frozen=True)
class _Rule:
    """A ``DispatchRule`` row with its unit, as plain values (kept past its session)."""

    kind: str
    topic: str
    keywords: tuple[str, ...]
    basis: str
    subplatform: str | None
    unit_id: int
    unit_code: str
    unit_name: str


class _RuleCache:
    """The rules of each sub-platform (with the province-wide ones), per database engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: weakref.WeakKeyDictionary[Engine, dict[str | None, tuple[int, float, list[_Rule]]]] = (
            weakref.WeakKeyDictionary())

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, session: Session, subplatform: str | None) -> list[_Rule]:
        engine = session.get_bind().engine
        with self._lock:
            generation = self._generation
            entry = self._entries.get(engine, {}).get(subplatform)
        if entry is not None and entry[0] == generation and time.monotonic() - entry[1] < CACHE_SECONDS:
            return entry[2]
        rows = session.scalars(
            select(DispatchRule).options(joinedload(DispatchRule.unit))
            .where(or_(DispatchRule.subplatform.is_(None), DispatchRule.subplatform == subplatform))
            .order_by(DispatchRule.id)).all()
        rules = [_Rule(r.kind, r.topic, tuple(r.keywords), r.basis, r.subplatform, r.unit.id, r.unit.code,
                       r.unit.name) for r in rows]
        if not _writes_pending(session):   # this session's own uncommitted rules are not everyone's yet
            with self._lock:
                if self._generation == generation:
                    self._entries.setdefault(engine, {})[subplatform] = (generation, time.monotonic(), rules)
        return rules


_CACHE = _RuleCache()
_WATCHED = (DispatchRule, OrgUnit)
_DIRTY = "agent_desk.dispatch.dirty"


def _rules(session: Session, subplatform: str | None) -> list[_Rule]:
    return _CACHE.get(session, subplatform)


def forget_rules() -> None:
    """Drop every cached rule (reference data reloaded in a way the session events do not see)."""
    _CACHE.forget()


def _writes_pending(session: Session) -> bool:
    return bool(session.info.get(_DIRTY))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if any(isinstance(o, _WATCHED) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[_DIRTY] = True
        _CACHE.forget()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in _WATCHED:
        state.session.info[_DIRTY] = True
        _CACHE.forget()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _after_end(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        _CACHE.forget()   # again: a reader between the flush and the commit may have cached the old rows


def _prefer_local(rules: Sequence[_Rule]) -> list[_Rule]:
    """Drop a province-wide rule when the sub-platform has its own for the same matter (kind, topic,
    keywords): the city's 住建局, not the provincial 住建厅, gets the city's gas leak."""
    def matter(rule: _Rule) -> tuple[str, str, tuple[str, ...]]:
        return rule.kind, rule.topic, rule.keywords

    local = {matter(rule) for rule in rules if rule.subplatform is not None}
    return [rule for rule in rules if rule.subplatform is not None or matter(rule) not in local]


def _suggestion(rule: _Rule, source: str, why: str, keywords: tuple[str, ...] = ()) -> Suggestion:
    return Suggestion(rule.unit_id, rule.unit_code, rule.unit_name, source, why, keywords)
