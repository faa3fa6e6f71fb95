"""Knowledge-base search on both backends (SQLite FTS5, PostgreSQL GIN): Chinese phrases, 2- and
1-character queries, words apart in the text, ranking, the index following every change, hostile input."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from agent_desk.db.session import Database
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.knowledge.search import MARK, search, upsert_article

TOPIC = "test-kb"  # every article here carries it, so the session's other rows never interfere
ARTICLES = [
    {"code": "t-sbk", "title": "社会保障卡挂失与补办",
     "body": "社保卡遗失后，请先拨打服务电话或到银行网点办理社保卡挂失，再携带身份证原件到社保经办机构申请补卡。",
     "tags": ["社保卡"]},
    {"code": "t-jzz", "title": "居住证办理",
     "body": "办理居住证需要携带本人身份证、近期照片，以及租房合同或房产证明，到居住地派出所申请。"},
    {"code": "t-ts-title", "title": "停水报修怎么办", "body": "请说明具体位置和开始时间，工作人员会联系供水企业处理。"},
    {"code": "t-ts-body", "title": "供水服务常见问题",
     "body": "水费缴纳、水表更换、水压不足等问题可咨询供水企业；计划停水会提前公告。"},
    {"code": "t-gjj", "title": "住房公积金提取",
     "body": "购房、租房、退休等情形可申请提取住房公积金，材料以公积金中心要求为准。"},
]


@pytest.fixture
def kb(db: Database) -> Database:
    with db.session() as session:
        for article in ARTICLES:
            upsert_article(session, topic=TOPIC, source="测试", **article)
    return db


def _search(db: Database, query: str, **kwargs) -> list:
    with db.session() as session:
        return search(session, query, topic=kwargs.pop("topic", TOPIC), **kwargs)


def _codes(hits) -> list[str]:
    return [hit.code for hit in hits]


def test_exact_phrase_is_found_and_marked(kb):
    hits = _search(kb, "社保卡挂失")
    assert _codes(hits)[0] == "t-sbk"
    assert f"{MARK[0]}社保卡挂失{MARK[1]}" in hits[0].snippet
    assert hits[0].title == "社会保障卡挂失与补办"


def test_two_character_query(kb):
    hits = _search(kb, "社保")
    assert _codes(hits) == ["t-sbk"]
    assert f"{MARK[0]}社保{MARK[1]}" in hits[0].snippet


def test_one_character_query(kb):
    assert "t-jzz" in _codes(_search(kb, "证"))
    assert _codes(_search(kb, "挂")) == ["t-sbk"]


@pytest.mark.parametrize("query", ["居住证 租房合同", "居住证租房合同", "租房 照片 派出所"])
def test_words_apart_in_the_text(kb, query):
    assert _codes(_search(kb, query))[0] == "t-jzz"


@pytest.mark.parametrize("query, code", [("社保卡丢了怎么办", "t-sbk"), ("居住证需要什么材料", "t-jzz"),
                                         ("请问公积金怎么提取", "t-gjj")])
def test_questions_as_people_ask_them(kb, query, code):
    assert _codes(_search(kb, query))[0] == code


def test_no_hit(kb):
    assert _search(kb, "量子纠缠望远镜") == []
    assert _search(kb, "量子纠缠望远镜", topic=None) == []


def test_a_query_sharing_one_common_term_is_not_a_hit(kb):
    # 办理 is in several articles, 航天 in none: 2 of 3 terms is not enough for a 3-term query
    assert _search(kb, "航天办理") == []


def test_title_hits_rank_above_body_hits(kb):
    hits = _search(kb, "停水")
    assert _codes(hits) == ["t-ts-title", "t-ts-body"]
    assert hits[0].score > hits[1].score


def test_topic_filter_and_limit(kb):
    assert "t-gjj" in _codes(_search(kb, "租房"))
    assert _search(kb, "租房", topic="no-such-topic") == []
    assert len(_search(kb, "租房", limit=1)) == 1


def test_the_index_follows_updates_deactivation_and_deletes(db: Database):
    with db.session() as session:
        upsert_article(session, code="t-sync", title="渡轮时刻表", body="琼州海峡渡轮每日开行。", topic=TOPIC)
    assert _codes(_search(db, "渡轮")) == ["t-sync"]

    with db.session() as session:
        _, status = upsert_article(session, code="t-sync", title="航班时刻表", body="美兰机场航班信息。", topic=TOPIC)
    assert status == "updated"
    assert _search(db, "渡轮") == []
    assert _codes(_search(db, "航班")) == ["t-sync"]

    with db.session() as session:
        _, status = upsert_article(session, code="t-sync", title="航班时刻表", body="美兰机场航班信息。", topic=TOPIC)
    assert status == "unchanged"

    with db.session() as session:
        upsert_article(session, code="t-sync", title="航班时刻表", body="美兰机场航班信息。", topic=TOPIC, active=False)
    assert _search(db, "航班") == []

    with db.session() as session:
        session.delete(session.scalars(select(KnowledgeArticle).filter_by(code="t-sync")).one())
    with db.session() as session:
        upsert_article(session, code="t-sync-2", title="航班延误", body="请咨询航空公司。", topic=TOPIC)
    assert _codes(_search(db, "航班")) == ["t-sync-2"]  # the deleted row left nothing behind in the index


HOSTILE = [
    '"', '""', "*", "NEAR(社保 居住证)", "社保 NEAR 居住证", "社保 -居住证", "社保 OR", "OR", "AND NOT",
    "title_terms:社保", "{title_terms body_terms}:社保", "' OR 1=1 --", "'; DROP TABLE knowledge_articles; --",
    "社保'); DELETE FROM knowledge_articles; --", "\\", "%", "_", ":topic", "社保 & 居住证 | !公积金", "<->",
    "(", ")", "", "   ", "？？？", "😀", "ｓｈｅｂａｏ",
]
# 社保 wrapped in operators and quotes: the operators are inert, the word still finds its article.
WRAPPED = ['"社保', '社保"', "社保*", "-社保", "^社保", "(社保)", "'社保'", "社保;--", "\x00社保", "社保\\"]


@pytest.mark.parametrize("query", HOSTILE + WRAPPED)
def test_hostile_input_never_raises(kb, query):
    hits = _search(kb, query)
    assert isinstance(hits, list)
    if query in WRAPPED:
        assert _codes(hits) == ["t-sbk"]
    with kb.session() as session:
        assert session.scalar(select(KnowledgeArticle.id).filter_by(code="t-sbk")) is not None


def test_the_database_index_is_used(kb):
    with kb.session() as session:
        if kb.dialect == "postgresql":
            from agent_desk.knowledge.search import PG_VECTOR
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(session.scalars(text(
                f"EXPLAIN SELECT id FROM knowledge_articles WHERE {PG_VECTOR} @@ to_tsquery('simple', '''社保''')")))
            assert "ix_knowledge_articles_search" in plan
        else:
            assert "knowledge_fts" in inspect(session.connection()).get_table_names()
            plan = " ".join(str(row) for row in session.execute(text(
                "EXPLAIN QUERY PLAN SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH '\"社保\"'")))
            assert "VIRTUAL TABLE INDEX" in plan
