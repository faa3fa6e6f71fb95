"""Reference data from YAML into the database: the organisation tree, the dispatch rules, the knowledge base.

Sources (each fact in one place):
- ``asterisk_conf/numbers.yaml``: the sub-platforms and their NBS codes (the number plan);
- ``hotline/data/gazetteer.yaml``: full names of cities/counties, their districts and towns;
- ``hotline/data/topics.yaml``: the topics and their suggested units (派单目录 defaults);
- ``agent_desk/data/org.yaml``: province, member units, city department templates, districts, grassroots;
- ``agent_desk/data/dispatch.yaml``: 派单目录 bases and the 直派清单;
- ``agent_desk/data/knowledge.yaml``: the knowledge-base articles.

Every file is validated first and every problem reported at once as ``file:line: field: message``
(``hotline.yamlsource``); nothing is written unless all of it is valid. Loading is an upsert by natural
key (org units by code, rules by kind/topic/sub-platform[/unit], articles by code), so a second load of
the same files changes nothing. Rows the files no longer mention are left alone: tickets may refer to them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from hotline import reference
from agent_desk.db.models import DispatchRule, OrgUnit
from agent_desk.db.upsert import Status, upsert
from agent_desk.knowledge.search import upsert_article
from hotline import yamlsource
from hotline.numberplan import load_plan
from hotline.paths import Paths
from hotline.yamlsource import ConfigError, SourceMap

DATA = Path(__file__).with_name("data")

CITY = "{city}"
TABLES = ("org_units", "dispatch_rules", "knowledge_articles")

Code = Annotated[str, Field(pattern=r"^[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff-]{0,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1)]
# A keyword or tag may be a number (12366): YAML reads it as an int, the desk matches it as text.
Word = Annotated[str, BeforeValidator(lambda v: str(v) if type(v) is int else v), Field(min_length=1)]


# ── file schemas ─────────────────────────────────────────────────────────────────────────────────────
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(Strict):
    code: Code
    name: Name


class DepartmentTemplate(Strict):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    name: Annotated[str, Field(pattern=r"\{city\}", max_length=100)]


class District(Strict):
    code: Code
    name: Name
    towns: list[Name] = []


class Grassroots(Strict):
    subplatform: str
    town: Name
    villages: list[Name] = []
    grids: list[Name] = []


class OrgFile(Strict):
    province: Unit
    subplatform_name: Annotated[str, Field(pattern=r"\{city\}")]
    member_units: list[Unit]
    city_departments: list[DepartmentTemplate]
    districts: dict[str, list[District]] = {}
    grassroots: list[Grassroots] = []


class CatalogueEntry(Strict):
    topic: str
    basis: Text
    unit: Name | None = None           # default: topics.yaml's unit
    province_unit: Name | None = None  # default: topics.yaml's province_unit


class DirectEntry(Strict):
    topic: str
    keywords: Annotated[list[Word], Field(min_length=1)]
    unit: Name
    province_unit: Name | None = None  # for a "{city}" unit: who gets it when no city is known
    basis: Text


class DispatchFile(Strict):
    catalogue: list[CatalogueEntry]
    direct: list[DirectEntry] = []


class Article(Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Text
    topic: str = ""
    tags: list[Word] = []
    source: Annotated[str, Field(min_length=1, max_length=256)]
    active: bool = True


    @field_validator("body")
    @classmethod
    def _join_lines(cls, body: str) -> str:
        """Chinese wraps without spaces: the file's line breaks inside a paragraph are not in the text."""
        paragraphs = re.split(r"\n\s*\n", body.strip())
        return "\n".join("".join(line.strip() for line in p.splitlines()) for p in paragraphs)


class KnowledgeFile(Strict):
    articles: list[Article]


class Topic(BaseModel):
    code: str
    name: str
    unit: str
    province_unit: str


class TopicsFile(BaseModel):
    topics: list[Topic]


class GazetteerCity(BaseModel):
    code: str
    name: str
    districts: list[str] = []
    towns: list[str] = []


class Gazetteer(BaseModel):
    cities: list[GazetteerCity]


# ── what gets written ────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Sources:
    org: Path = DATA / "org.yaml"
    dispatch: Path = DATA / "dispatch.yaml"
    knowledge: Path = DATA / "knowledge.yaml"
    plan: Path = field(default_factory=lambda: Paths.from_env().plan)
    gazetteer: Path = reference.GAZETTEER
    topics: Path = reference.TOPICS


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str      # province | subplatform | member_unit | district | town | village | grid
    level: str     # lifecycle.Level
    parent: str | None
    subplatform: str | None


@dataclass(frozen=True)
class RuleSpec:
    kind: str      # catalogue | direct
    topic: str
    subplatform: str | None
    unit: str      # org unit code
    keywords: tuple[str, ...]
    basis: str


@dataclass
class ReferenceData:
    units: list[UnitSpec]          # parents before children
    rules: list[RuleSpec]
    articles: list[Article]


def load_reference_data(session: Session, sources: Sources | None = None) -> dict[str, int]:
    """Validate every source, then upsert units, rules and articles. Returns counts per table and outcome,
    e.g. ``{"org_units.created": 412, "org_units.updated": 0, "org_units.unchanged": 0, ...}``.
    Raises ``ConfigError`` (every problem, with file and line) before writing anything."""
    data = read_reference_data(sources or Sources())
    counts: Counter[str] = Counter({f"{table}.{status}": 0 for table in TABLES
                                    for status in ("created", "updated", "unchanged")})
    ids: dict[str, int] = {}
    for spec in data.units:
        row, status = upsert(session, OrgUnit, {"code": spec.code},
                             {"name": spec.name, "kind": spec.kind, "level": spec.level,
                              "parent_id": ids[spec.parent] if spec.parent else None, "subplatform": spec.subplatform})
        ids[spec.code] = row.id
        counts[f"org_units.{status}"] += 1
    for rule in data.rules:
        counts[f"dispatch_rules.{_upsert_rule(session, rule, ids[rule.unit])}"] += 1
    for article in data.articles:
        _, status = upsert_article(session, **article.model_dump())
        counts[f"knowledge_articles.{status}"] += 1
    session.flush()
    return dict(counts)


def _upsert_rule(session: Session, rule: RuleSpec, unit_id: int) -> Status:
    # A catalogue names one host unit per topic and sub-platform (changing it updates the row); a topic
    # may have several direct-dispatch entries, one per unit.
    key: dict[str, Any] = {"kind": rule.kind, "topic": rule.topic, "subplatform": rule.subplatform}
    values: dict[str, Any] = {"keywords": list(rule.keywords), "basis": rule.basis}
    (key if rule.kind == "direct" else values)["unit_id"] = unit_id
    return upsert(session, DispatchRule, key, values)[1]


# ── reading and validating ───────────────────────────────────────────────────────────────────────────
Model = TypeVar("Model", bound=BaseModel)


def _read(path: Path, model: type[Model], problems: list[str]) -> tuple[Model | None, SourceMap]:
    try:
        raw, source = yamlsource.load(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None, SourceMap(path)
    try:
        return model.model_validate(raw), source
    except ValidationError as exc:
        problems.extend(yamlsource.validation_problems(exc, source))
        return None, source


def read_reference_data(sources: Sources) -> ReferenceData:
    """Everything the load would write, validated across files. Raises ConfigError listing every problem."""
    problems: list[str] = []
    try:
        subplatforms = [(sp.code, sp.name) for sp in load_plan(sources.plan).subplatforms]
    except ConfigError as exc:
        problems.extend(exc.problems)
        subplatforms = []
    org, org_src = _read(sources.org, OrgFile, problems)
    dispatch, dispatch_src = _read(sources.dispatch, DispatchFile, problems)
    knowledge, knowledge_src = _read(sources.knowledge, KnowledgeFile, problems)
    topics, topics_src = _read(sources.topics, TopicsFile, problems)
    gazetteer, _ = _read(sources.gazetteer, Gazetteer, problems)
    if org is None or dispatch is None or knowledge is None or topics is None or gazetteer is None:
        raise ConfigError(problems)

    tree = OrgTree.build(org, org_src, subplatforms, gazetteer, problems)
    rules = _rules(dispatch, dispatch_src, topics, topics_src, tree, problems)
    articles = _articles(knowledge, knowledge_src, {t.code for t in topics.topics}, problems)
    if problems:
        raise ConfigError(problems)
    return ReferenceData(tree.units, rules, articles)


@dataclass
class OrgTree:
    units: list[UnitSpec]
    city_names: dict[str, str]              # sub-platform code → 海口市 …
    member_units: dict[str, str]            # unit name → code (province level)
    templates: dict[str, str]               # "{city}水务局" → key

    def resolve(self, name: str, subplatform: str | None) -> str | None:
        """The code of the unit ``name`` ("{city}…" for the sub-platform's department), or None."""
        if CITY in name:
            key = self.templates.get(name)
            return f"{subplatform}-{key}" if key and subplatform else None
        return self.member_units.get(name)

    @classmethod
    def build(cls, org: OrgFile, src: SourceMap, subplatforms: list[tuple[str, str]], gazetteer: Gazetteer,
              problems: list[str]) -> OrgTree:
        cities = {city.code: city for city in gazetteer.cities}
        units = [UnitSpec(org.province.code, org.province.name, "province", "province", None, None)]
        for unit in org.member_units:
            units.append(UnitSpec(unit.code, unit.name, "member_unit", "province", org.province.code, None))
        templates: dict[str, str] = {}
        for i, template in enumerate(org.city_departments):
            if template.name in templates or template.key in templates.values():
                problems.append(src.problem(("city_departments", i), "key or name repeats an earlier template"))
            templates[template.name] = template.key
        for code in org.districts:
            if code not in dict(subplatforms):
                problems.append(src.problem(("districts", code), f"{code} is not a sub-platform of the number plan"))

        city_names = {}
        for sp_code, sp_name in subplatforms:
            city = cities.get(sp_code)
            city_name = city.name if city else sp_name
            city_names[sp_code] = city_name
            units.append(UnitSpec(sp_code, org.subplatform_name.replace(CITY, city_name), "subplatform", "city",
                                  org.province.code, sp_code))
            for template in org.city_departments:
                units.append(UnitSpec(f"{sp_code}-{template.key}", template.name.replace(CITY, city_name),
                                      "member_unit", "city", sp_code, sp_code))
            units += _districts_and_towns(sp_code, org.districts.get(sp_code, []), city)

        towns = {u.code for u in units if u.kind == "town"}
        for i, place in enumerate(org.grassroots):
            town = f"{place.subplatform}-{place.town}"
            if town not in towns:
                problems.append(src.problem(("grassroots", i, "town"),
                                            f"no town {place.town!r} under sub-platform {place.subplatform!r}"))
                continue
            units += [UnitSpec(f"{town}-{name}", name, "village", "town", town, place.subplatform)
                      for name in place.villages]
            units += [UnitSpec(f"{town}-{name}", name, "grid", "town", town, place.subplatform) for name in place.grids]

        seen: dict[str, UnitSpec] = {}
        for spec in units:
            if spec.code in seen:
                problems.append(src.problem((), f"two units would share the code {spec.code!r}: "
                                                f"{seen[spec.code].name} and {spec.name}"))
            seen[spec.code] = spec
        members = {u.name: u.code for u in units if u.kind == "member_unit" and u.level == "province"}
        return cls(units, city_names, members, templates)


def _districts_and_towns(sp_code: str, districts: list[District], city: GazetteerCity | None) -> list[UnitSpec]:
    """Districts (org.yaml's with NBS codes, then the gazetteer's others) and every town, each town under
    its district when org.yaml places it there, else under the sub-platform."""
    units: list[UnitSpec] = []
    placed: dict[str, str] = {}
    listed = {d.name for d in districts}
    extra = [District(code=f"{sp_code}-{name}", name=name)
             for name in (city.districts if city else []) if name not in listed]
    for district in [*districts, *extra]:
        units.append(UnitSpec(district.code, district.name, "district", "county", sp_code, sp_code))
        placed.update(dict.fromkeys(district.towns, district.code))
    town_names = list(dict.fromkeys([*(city.towns if city else []), *placed]))
    for name in town_names:
        units.append(UnitSpec(f"{sp_code}-{name}", name, "town", "town", placed.get(name, sp_code), sp_code))
    return units


def _rules(dispatch: DispatchFile, src: SourceMap, topics: TopicsFile, topics_src: SourceMap, tree: OrgTree,
           problems: list[str]) -> list[RuleSpec]:
    by_code = {t.code: t for t in topics.topics}
    for i, topic in enumerate(topics.topics):  # topics.yaml's units must exist, or the IVR suggests ghosts
        for attr in ("unit", "province_unit"):
            name = getattr(topic, attr)
            if (CITY in name and name not in tree.templates) or (CITY not in name and name not in tree.member_units):
                problems.append(topics_src.problem(
                    ("topics", i, attr), f"{name!r} is not a unit of org.yaml (member_units or city_departments)"))
    rules: list[RuleSpec] = []
    for i, entry in enumerate(dispatch.catalogue):
        known = by_code.get(entry.topic)
        if known is None:
            problems.append(src.problem(("catalogue", i, "topic"), f"unknown topic {entry.topic!r} (see topics.yaml)"))
            continue
        rules += _expand("catalogue", ("catalogue", i), entry.topic, (), entry.unit or known.unit,
                         entry.province_unit or known.province_unit, entry.basis, src, tree, problems)
    direct_units: set[tuple[str, str]] = set()
    for i, direct in enumerate(dispatch.direct):
        if direct.topic not in by_code:
            problems.append(src.problem(("direct", i, "topic"), f"unknown topic {direct.topic!r} (see topics.yaml)"))
            continue
        if (direct.topic, direct.unit) in direct_units:
            problems.append(src.problem(("direct", i, "unit"), f"{direct.unit} already has a direct entry for "
                                                                f"{direct.topic}: merge the keywords"))
        direct_units.add((direct.topic, direct.unit))
        rules += _expand("direct", ("direct", i), direct.topic, tuple(direct.keywords), direct.unit,
                         direct.province_unit, direct.basis, src, tree, problems)
    return rules


def _expand(kind: str, loc: tuple[str | int, ...], topic: str, keywords: tuple[str, ...], unit: str,
            province_unit: str | None, basis: str, src: SourceMap, tree: OrgTree,
            problems: list[str]) -> list[RuleSpec]:
    """A "{city}" unit becomes one rule per sub-platform plus the province unit for calls of no known city;
    any other unit one rule for everywhere."""
    if CITY not in unit:
        code = tree.resolve(unit, None)
        if code is None:
            problems.append(src.problem(loc + ("unit",), f"{unit!r} is not a member unit of org.yaml"))
            return []
        return [RuleSpec(kind, topic, None, code, keywords, basis)]
    if unit not in tree.templates:
        problems.append(src.problem(loc + ("unit",), f"{unit!r} matches no city_departments template of org.yaml"))
        return []
    rules = []
    for sp in tree.city_names:
        code = tree.resolve(unit, sp)
        assert code is not None  # a template's key and a sub-platform's code are never empty
        rules.append(RuleSpec(kind, topic, sp, code, keywords, basis))
    if province_unit is not None:
        code = tree.resolve(province_unit, None)
        if code is None:
            problems.append(src.problem((*loc, "province_unit"),
                                        f"{province_unit!r} is not a member unit of org.yaml"))
        else:
            rules.append(RuleSpec(kind, topic, None, code, keywords, basis))
    return rules


def _articles(knowledge: KnowledgeFile, src: SourceMap, topics: set[str], problems: list[str]) -> list[Article]:
    seen: set[str] = set()
    for i, article in enumerate(knowledge.articles):
        if article.code in seen:
            problems.append(src.problem(("articles", i, "code"), f"{article.code} is used by an earlier article"))
        seen.add(article.code)
        if article.topic and article.topic not in topics:
            problems.append(src.problem(("articles", i, "topic"), f"unknown topic {article.topic!r} (see topics.yaml)"))
    return knowledge.articles
