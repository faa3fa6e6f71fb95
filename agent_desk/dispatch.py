"""Which unit should handle a matter: the direct-dispatch list first, then the dispatch catalogue.

直派清单 (direct dispatch, "属事优先"): listed matters, recognised by keywords in the description, go
straight to a named unit. 派单目录 (catalogue, "谁主管谁负责"): the host unit of a topic in the caller's
city/county. Rules for the caller's sub-platform win over province-wide ones for the same matter; with no
sub-platform known only province-wide rules apply. Both lists are data (agent_desk/data/dispatch.yaml,
loaded by agent_desk/seed.py). These are suggestions: the agent decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from agent_desk.db.models import DispatchRule


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
    rules = session.scalars(
        select(DispatchRule).options(joinedload(DispatchRule.unit))
        .where(or_(DispatchRule.subplatform.is_(None), DispatchRule.subplatform == subplatform))
        .order_by(DispatchRule.id)).all()
    local = _prefer_local(rules)

    direct = []
    for rule in local:
        found = tuple(k for k in rule.keywords if k in text) if rule.kind == "direct" and text else ()
        if found:
            direct.append((len(found), rule, found))
    direct.sort(key=lambda item: -item[0])  # stable: equal hit counts keep the file's order
    suggestions = [_suggestion(rule, "direct", f"直派清单：描述中有“{'、'.join(found)}”。{rule.basis}", found)
                   for _, rule, found in direct]
    suggestions += [_suggestion(rule, "catalogue", f"派单目录（{rule.topic}）：{rule.basis}")
                    for rule in local if rule.kind == "catalogue" and rule.topic == topic_code]

    seen: set[int] = set()
    unique = []
    for suggestion in suggestions:
        if suggestion.unit_id not in seen:
            seen.add(suggestion.unit_id)
            unique.append(suggestion)
    return unique


def _prefer_local(rules: Sequence[DispatchRule]) -> list[DispatchRule]:
    """Drop a province-wide rule when the sub-platform has its own for the same matter (kind, topic,
    keywords): the city's 住建局, not the provincial 住建厅, gets the city's gas leak."""
    def matter(rule: DispatchRule) -> tuple[str, str, tuple[str, ...]]:
        return rule.kind, rule.topic, tuple(rule.keywords)

    local = {matter(rule) for rule in rules if rule.subplatform is not None}
    return [rule for rule in rules if rule.subplatform is not None or matter(rule) not in local]


def _suggestion(rule: DispatchRule, source: str, why: str, keywords: tuple[str, ...] = ()) -> Suggestion:
    return Suggestion(rule.unit.id, rule.unit.code, rule.unit.name, source, why, keywords)
