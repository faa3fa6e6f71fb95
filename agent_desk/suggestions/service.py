"""The top-3 topics and host units for the words so far: rules first and marked as rules, the model around them.

Rules are the law (issue 13): a topic whose keywords (``hotline/data/topics.yaml``) are in the text, and a unit of
the 直派清单 (keywords in the text) or of the 派单目录 (for the topic on the form, else the first topic suggested),
are shown before anything the model offers, with the rule's own words as the reason. The model ranks within them
(a rule the model finds likelier comes first) and beyond them (its other candidates fill the rest). Nothing that
no longer exists is shown: every code is checked against ``topics.yaml`` and the active org tree at answer time,
so a model trained before a unit was retired never puts it in front of an agent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.db.models import OrgUnit
from agent_desk.dispatch import suggest_units
from agent_desk.learning import Target, current_model, model_path
from agent_desk.suggestions import text as T
from hotline.reference import topic_names, topics
from suggest.store import read_header

log = logging.getLogger(__name__)

SHOWN = 3          # what the agent sees of each list
MODEL_DEPTH = 10   # the model's candidates read: enough to rank the rules and to fill after retired codes go
SHORT = 4          # fewer Chinese characters than this: a hint, not a description
_HAN = re.compile(r"[\u4e00-\u9fff]")
PLACE_KINDS = {"subplatform": ("subplatform",), "county": ("district", "subplatform"), "town": ("town",)}


class Ranked(Protocol):
    """What the model answers per label (``suggest.Suggestion``)."""

    label: str
    confidence: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class LoadedModel:
    model: Any          # suggest.Model
    version: str


class ModelSource(Protocol):
    def get(self, kind: str) -> LoadedModel | None:
        """The model in use for ``kind`` ("topic" or "unit"), or None (none trained yet, or unreadable)."""


@dataclass(frozen=True)
class Place:
    """Where the matter is and the line the call came in on; codes of the org tree (sub-platform 460100, …)."""

    subplatform: str | None = None
    county: str | None = None
    town: str | None = None
    line: str | None = None

    def context(self) -> dict[str, str]:
        """The model's ``context``, shaped as ``agent_desk.learning.context_of`` gives it in training: the known
        keys only."""
        given = {"subplatform": self.subplatform, "county": self.county, "town": self.town, "line": self.line}
        return {key: value for key, value in given.items() if value}


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    confidence: float | None    # the model's probability; None: a rule the model did not rank (or no model)
    rule: bool
    reasons: tuple[str, ...]    # the words behind it: the rule's keywords, or the n-grams that weighed most
    why: str                    # one sentence for the agent
    id: int | None = None       # the org unit's id (units only)


@dataclass(frozen=True)
class Answer:
    source: str                 # "model": the model took part; "rules": rules only
    model_version: str
    topics: list[Item]
    units: list[Item]
    notes: list[str] = field(default_factory=list)


# ── the seam to the learnt models ──────────────────────────────────────────

def model_ranking(model: Any, text: str, place: Place, k: int, only: Collection[str] | None = None,
                  explain: int | None = None) -> list[Ranked]:
    """The one call into a learnt model (``suggest.Model.top_k``): its k likeliest labels for ``text`` in
    ``place``, among ``only`` (the labels that still exist; None: all); reasons for the first ``explain`` (None:
    all k)."""
    if explain is None:
        return list(model.top_k(text, k=k, context=place.context(), only=only))
    return list(model.top_k(text, k=k, context=place.context(), only=only, explain=explain))


def model_version(model: Any, head: Mapping[str, Any] | None = None) -> str:
    """How the model names itself: the version its file header gives (the desk's training numbers them), else its
    size and held-out accuracy."""
    version = (head or {}).get("version")
    if isinstance(version, int):
        return f"v{version:04d}"
    held = getattr(model, "held_out", None) or {}
    top1 = held.get("top1")
    return f"n={getattr(model, 'n_examples', '?')}" + (f" top1={top1:.3f}" if isinstance(top1, float) else "")


class CurrentModels:
    """The models in use in ``folder`` (``Paths.suggest_models``), as ``agent_desk.learning`` loads them: a missing,
    corrupt or outdated file is None there (logged once), and the desk suggests by rules."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._versions: dict[str, tuple[Any, str]] = {}   # kind → (the model object, its version)

    def get(self, kind: str) -> LoadedModel | None:
        target: Target = "topic" if kind == "topic" else "unit"
        try:
            model = current_model(self.folder, target)
        except Exception:     # whatever goes wrong reading it must never cost the agent the rules
            log.warning("suggestion model %r could not be loaded; rules only", kind, exc_info=True)
            return None
        if model is None:
            return None
        known = self._versions.get(kind)
        if known is None or known[0] is not model:
            try:
                head: dict[str, Any] | None = read_header(model_path(self.folder, target))
            except Exception:  # replaced or removed since: name it by what it holds
                head = None
            if head is not None and head.get("n_examples") != model.n_examples:
                head = None    # the file changed after the model was read: its header is another model's
            known = self._versions[kind] = (model, model_version(model, head))
        return LoadedModel(model, known[1])


class NoModels:
    """Cold start: rules only."""

    def get(self, kind: str) -> LoadedModel | None:
        return None


# ── ranking ─────────────────────────────────────────────────────────────────

def merge(rules: Sequence[Item], ranked: Sequence[Ranked], known: Callable[[str], tuple[str, int | None] | None],
          k: int = SHOWN) -> list[Item]:
    """Rules first, ordered by the model's confidence in them (rules it did not rank keep their order, after
    those it did); then the model's other candidates, best first; each code once; codes ``known`` does not
    name (retired, removed) left out. ``known(code)`` gives the display name and id of a code that exists."""
    confidence = {r.label: r for r in ranked}
    chosen: list[Item] = []
    seen: set[str] = set()
    for rule in rules:
        if rule.code in seen or known(rule.code) is None:
            continue
        seen.add(rule.code)
        model = confidence.get(rule.code)
        chosen.append(replace(rule, confidence=float(model.confidence) if model else None))
    chosen.sort(key=lambda item: -(item.confidence if item.confidence is not None else -1.0))  # stable
    for candidate in ranked:
        found = known(candidate.label)
        if candidate.label in seen or found is None:
            continue
        seen.add(candidate.label)
        name, ident = found
        reasons = tuple(candidate.reasons)
        chosen.append(Item(candidate.label, name, float(candidate.confidence), False, reasons, T.model_why(reasons),
                           ident))
    return chosen[:k]


def topic_rules(text: str) -> list[Item]:
    """Topics whose keywords are in the text, most keywords first (the file's order among equals)."""
    hits = []
    for topic in topics():
        found = tuple(word for word in topic["keywords"] if word in text)
        if found:
            hits.append((len(found), topic, found))
    hits.sort(key=lambda hit: -hit[0])
    return [Item(t["code"], t["name"], None, True, found, T.topic_rule_why(found)) for _, t, found in hits]


def suggest(session: Session, models: ModelSource, text: str, place: Place = Place(), topic: str = "") -> Answer:
    """The top-3 topics and host units for ``text``; ``topic`` is the one on the form, if the agent chose one."""
    text = text.strip()
    notes: list[str] = []
    place = _known_place(session, place, notes)
    if topic and topic not in topic_names():
        notes.append(T.UNKNOWN_TOPIC.format(code=topic[:20]))
        topic = ""
    han = len(_HAN.findall(text))
    if not text:
        notes.append(T.EMPTY_TEXT)
    elif not han:
        notes.append(T.NO_CHINESE)
    elif han < SHORT:
        notes.append(T.SHORT_TEXT)

    loaded = {kind: models.get(kind) for kind in ("topic", "unit")} if text else {}
    ranked: dict[str, list[Ranked]] = {}

    def rank(kind: str, rules: int) -> None:
        """The model's candidates for ``kind``; reasons only for those that can be shown: a model candidate is
        shown after the rules, so no deeper than ``SHOWN`` plus the number of rules it may repeat."""
        model = loaded.get(kind)
        if model is None:
            return
        try:
            labels = getattr(model.model, "labels", None)
            only = (set(topic_names()) if kind == "topic"
                    else set(_active_units(session, list(labels))) if labels is not None else None)
            ranked[kind] = model_ranking(model.model, text, place, MODEL_DEPTH, only, explain=SHOWN + rules)
        except Exception:   # a model that fails on this text: the rules still stand
            log.warning("suggestion model %r failed; rules only", kind, exc_info=True)

    names = topic_names()
    topic_rule_items = topic_rules(text)
    rank("topic", len(topic_rule_items))
    topic_items = merge(topic_rule_items, ranked.get("topic", []),
                        lambda code: (names[code], None) if code in names else None)

    catalogue_topic = topic or (topic_items[0].code if topic_items else "")
    unit_rules = [Item(s.unit_code, s.unit_name, None, True, s.keywords, s.why, s.unit_id)
                  for s in suggest_units(session, catalogue_topic or None, place.subplatform, text)]
    rank("unit", len(unit_rules))
    if text and not ranked:
        notes.append(T.MODEL_FAILED if any(loaded.values()) else T.NO_MODEL)
    unit_ranked = ranked.get("unit", [])
    units = _active_units(session, [r.code for r in unit_rules] + [r.label for r in unit_ranked])
    unit_items = merge(unit_rules, unit_ranked, lambda code: units.get(code))

    versions = [f"{kind}:{model.version}" for kind, model in loaded.items() if model is not None and kind in ranked]
    return Answer("model" if ranked else "rules", " ".join(versions)[:64], topic_items, unit_items, notes)


def _active_units(session: Session, codes: Sequence[str]) -> dict[str, tuple[str, int | None]]:
    if not codes:
        return {}
    rows = session.execute(select(OrgUnit.code, OrgUnit.name, OrgUnit.id)
                           .where(OrgUnit.code.in_(set(codes)), OrgUnit.active.is_(True)))
    return {code: (name, ident) for code, name, ident in rows}


def _known_place(session: Session, place: Place, notes: list[str]) -> Place:
    """The place with every code the org tree does not know (or has retired) dropped, each with a note."""
    given = {name: getattr(place, name) for name in PLACE_KINDS if getattr(place, name)}
    if not given:
        return place
    rows = session.execute(select(OrgUnit.code, OrgUnit.kind)
                           .where(OrgUnit.code.in_(set(given.values())), OrgUnit.active.is_(True)))
    kinds: Mapping[str, str] = {code: kind for code, kind in rows}
    kept = {}
    for name, code in given.items():
        if kinds.get(code) in PLACE_KINDS[name]:
            kept[name] = code
        else:
            notes.append(T.UNKNOWN_PLACE.format(what=T.PLACE_NAMES[name], code=code[:32]))
            kept[name] = None
    return replace(place, **kept)
