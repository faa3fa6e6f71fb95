"""Reference data (org tree, dispatch rules, knowledge base) loaded from YAML on both backends: idempotent,
validated with file and line, and the dispatch suggestions it drives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent_desk.db.models import DispatchRule, OrgUnit
from agent_desk.db.session import Database
from agent_desk.dispatch import suggest_units
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.knowledge.search import search
from agent_desk.seed import DATA, Sources, load_reference_data, read_reference_data
from hotline.numberplan import load_plan
from hotline.yamlsource import ConfigError
from tests.conftest import BACKENDS

TABLES = {"org_units": OrgUnit, "dispatch_rules": DispatchRule, "knowledge_articles": KnowledgeArticle}


@pytest.fixture(scope="module")
def seeded(db: Database) -> Database:
    with db.session() as session:
        load_reference_data(session)
    return db


def _rows(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {name: session.scalar(select(func.count()).select_from(model)) for name, model in TABLES.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_loading_twice_changes_nothing(new_database, backend):
    db = Database(new_database(backend))
    try:
        expected = read_reference_data(Sources())
        sizes = {"org_units": len(expected.units), "dispatch_rules": len(expected.rules),
                 "knowledge_articles": len(expected.articles)}
        with db.session() as session:
            first = load_reference_data(session)
        assert {t: first[f"{t}.created"] for t in TABLES} == sizes
        assert _rows(db) == sizes

        with db.session() as session:
            second = load_reference_data(session)
        assert {t: second[f"{t}.unchanged"] for t in TABLES} == sizes
        assert sum(second[f"{t}.{s}"] for t in TABLES for s in ("created", "updated")) == 0
        assert _rows(db) == sizes
    finally:
        db.dispose()


def _copy_sources(tmp_path: Path) -> Sources:
    for name in ("org.yaml", "dispatch.yaml", "knowledge.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    return Sources(org=tmp_path / "org.yaml", dispatch=tmp_path / "dispatch.yaml",
                   knowledge=tmp_path / "knowledge.yaml")


def test_a_changed_name_updates_one_unit(new_database, tmp_path):
    db = Database(new_database("sqlite"))
    try:
        sources = _copy_sources(tmp_path)
        with db.session() as session:
            load_reference_data(session, sources)
        sources.org.write_text(sources.org.read_text().replace("name: 海南省地震局", "name: 海南省地震局（测试）"))
        with db.session() as session:
            counts = load_reference_data(session, sources)
            assert counts["org_units.updated"] == 1 and counts["org_units.created"] == 0
            assert session.scalar(select(OrgUnit.name).filter_by(code="hn-earthquake")) == "海南省地震局（测试）"
    finally:
        db.dispose()


def test_org_tree(seeded: Database):
    plan = load_plan(Path(__file__).resolve().parents[2] / "asterisk_conf" / "numbers.yaml")
    with seeded.session() as session:
        units = {u.code: u for u in session.scalars(select(OrgUnit))}
    province = units["460000"]
    assert (province.name, province.kind, province.level, province.parent_id) == (
        "海南省12345热线平台", "province", "province", None)
    for sp in plan.subplatforms:  # the 19 sub-platforms + 洋浦, codes exactly as the number plan
        unit = units[sp.code]
        assert (unit.kind, unit.level, unit.parent_id, unit.subplatform) == (
            "subplatform", "city", province.id, sp.code)
    assert len([u for u in units.values() if u.kind == "subplatform"]) >= 20
    assert units["460100"].name == "海口市12345热线分平台"

    water = units["460100-water"]
    assert (water.name, water.kind, water.level, water.parent_id) == (
        "海口市水务局", "member_unit", "city", units["460100"].id)
    assert units["469025-water"].name == "白沙黎族自治县水务局"
    assert (units["hn-water"].name, units["hn-water"].level) == ("海南省水务厅", "province")
    assert units["hn-grid"].parent_id == province.id

    xiuying = units["460105"]
    assert (xiuying.name, xiuying.kind, xiuying.level, xiuying.parent_id) == (
        "秀英区", "district", "county", units["460100"].id)
    assert {units[c].name for c in ("460202", "460203", "460204", "460205")} == {"海棠区", "吉阳区", "天涯区", "崖州区"}
    changliu = units["460100-长流镇"]
    assert (changliu.kind, changliu.level, changliu.parent_id, changliu.subplatform) == (
        "town", "town", xiuying.id, "460100")
    jiaji = units["469002-嘉积镇"]
    assert jiaji.parent_id == units["469002"].id  # a county-level city: towns hang under the sub-platform
    grid = units["469002-嘉积镇-嘉积镇第一网格"]
    assert (grid.kind, grid.level, grid.parent_id) == ("grid", "town", jiaji.id)
    assert units["460100-演丰镇"].parent_id == units["460108"].id  # 美兰区
    towns_with_grassroots = {units[c].parent_id for c in units if units[c].kind in ("village", "grid")}
    assert len(towns_with_grassroots) >= 2


def test_every_unit_the_topics_suggest_exists(seeded: Database):
    import yaml
    from hotline.reference import TOPICS
    topics = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))["topics"]
    with seeded.session() as session:
        names = set(session.scalars(select(OrgUnit.name)))
    for topic in topics:
        assert topic["province_unit"] in names
        assert topic["unit"].replace("{city}", "琼海市") in names


def _suggest(db: Database, topic: str | None, subplatform: str | None, text: str) -> list:
    with db.session() as session:
        return suggest_units(session, topic, subplatform, text)


def test_catalogue_gives_the_city_department(seeded):
    suggestions = _suggest(seeded, "03-water", "469002", "自来水发黄")
    assert [s.unit_name for s in suggestions] == ["琼海市水务局"]
    assert suggestions[0].source == "catalogue" and "水务" in suggestions[0].why
    assert suggestions[0].unit_code == "469002-water"


def test_catalogue_without_a_city_gives_the_province_unit(seeded):
    assert [s.unit_name for s in _suggest(seeded, "03-water", None, "")] == ["海南省水务厅"]


def test_direct_list_comes_before_the_catalogue(seeded):
    suggestions = _suggest(seeded, "03-housing", "460100", "小区停电一整天了")
    assert [(s.unit_name, s.source) for s in suggestions] == [("海南电网公司", "direct"),
                                                              ("海口市住房和城乡建设局", "catalogue")]
    assert suggestions[0].keywords == ("停电",) and "停电" in suggestions[0].why


def test_gas_goes_to_the_city_gas_authority(seeded):
    names = [s.unit_name for s in _suggest(seeded, "03-power", "460200", "楼道里有很重的燃气味")]
    assert names[0] == "三亚市住房和城乡建设局"
    assert "海南省住房和城乡建设厅" not in names  # the city's own rule wins over the province-wide one
    assert names[1] == "海南电网公司"  # the 03-power catalogue entry
    assert _suggest(seeded, None, None, "燃气泄漏")[0].unit_name == "海南省住房和城乡建设厅"


def test_tax_question_goes_to_the_tax_bureau_once(seeded):
    suggestions = _suggest(seeded, "11-tax", "460200", "个税退税怎么申请")
    assert [s.unit_name for s in suggestions] == ["国家税务总局海南省税务局"]
    assert suggestions[0].source == "direct" and set(suggestions[0].keywords) == {"个税", "退税"}


def test_nothing_known_suggests_nothing(seeded):
    assert _suggest(seeded, "no-such-topic", "460100", "你好") == []


def test_knowledge_base_is_loaded_and_searchable(seeded):
    with seeded.session() as session:
        assert session.scalar(select(func.count()).select_from(KnowledgeArticle)) >= 40
        assert search(session, "公积金提取")[0].code == "gjj-withdrawal"
        assert search(session, "不予受理")[0].code == "hotline-refusal"
        assert "sbk-loss" in [hit.code for hit in search(session, "社保卡 挂失")][:1]
        assert search(session, "异地就医")[0].code == "medical-insurance-remote"


def _problems(tmp_path: Path, file: str, old: str, new: str) -> list[str]:
    sources = _copy_sources(tmp_path)
    path = getattr(sources, file.removesuffix(".yaml"))
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        read_reference_data(sources)
    return caught.value.problems


def test_an_unknown_field_is_reported_with_file_and_line(tmp_path):
    problems = _problems(tmp_path, "org.yaml", "  - {code: hn-water, name: 海南省水务厅}",
                         "  - {code: hn-water, name: 海南省水务厅, nmae: x}")
    line = next(i for i, text in enumerate((tmp_path / "org.yaml").read_text().splitlines(), 1) if "nmae" in text)
    assert problems == [f"{tmp_path / 'org.yaml'}:{line}: member_units[0].nmae: unknown field (a typo?)"]


def test_a_dispatch_unit_that_does_not_exist_is_reported(tmp_path):
    problems = _problems(tmp_path, "dispatch.yaml", "unit: 海口海关", "unit: 海口海关总署")
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'dispatch.yaml'}:")
    assert "direct[3].unit: '海口海关总署' is not a member unit of org.yaml" in problems[0]


def test_every_problem_is_reported_at_once(tmp_path):
    sources = _copy_sources(tmp_path)
    sources.dispatch.write_text(sources.dispatch.read_text().replace("- topic: 03-water", "- topic: 99-none", 1))
    sources.knowledge.write_text(sources.knowledge.read_text().replace("code: sbk-apply", "code: sbk-loss", 1))
    with pytest.raises(ConfigError) as caught:
        read_reference_data(sources)
    assert any("dispatch.yaml" in p and "catalogue[0].topic: unknown topic '99-none'" in p
               for p in caught.value.problems)
    assert any("knowledge.yaml" in p and "sbk-loss is used by an earlier article" in p for p in caught.value.problems)


def test_nothing_is_written_when_a_file_is_invalid(new_database, tmp_path):
    db = Database(new_database("sqlite"))
    try:
        sources = _copy_sources(tmp_path)
        sources.knowledge.write_text(sources.knowledge.read_text() + "  - {code: broken}\n")
        with pytest.raises(ConfigError, match=r"knowledge\.yaml:\d+: articles\[48\]\.title: Field required"):
            with db.session() as session:
                load_reference_data(session, sources)
        assert _rows(db) == {"org_units": 0, "dispatch_rules": 0, "knowledge_articles": 0}
    finally:
        db.dispose()
