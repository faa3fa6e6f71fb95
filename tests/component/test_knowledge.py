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


# ── knowledge at hand (可直接答复): articles ranked by the shared representation ───────────────────────
from agent_desk.knowledge.suggestions import THRESHOLD, suggest_articles  # noqa: E402
from agent_desk.seed import load_reference_data  # noqa: E402
from tests.conftest import BACKENDS  # noqa: E402
from tests.support.desk import close_rig, make_rig  # noqa: E402

# What callers say, and the seeded article (agent_desk/data/knowledge.yaml) that answers it.
ASKED = [("我家的自来水发黄了，有铁锈味，怎么办", "water-quality"), ("社保卡丢了要怎么补办", "sbk-loss"),
         ("公司拖欠我三个月工资了", "wage-arrears"), ("我想提取公积金买房", "gjj-withdrawal"),
         ("楼下装修噪音很大，晚上也不停", "noise-complaint"), ("小孩明年上小学，要怎么报名", "school-enrollment"),
         ("市民来电反映：本人在海口市龙华区工作，想把户口从老家迁过来，需要什么材料", "hukou-migration"),
         ("我要投诉一个出租车司机绕路", "taxi-complaint"),
         ("市民来电反映：某小区电梯经常坏，物业不管", "property-management")]
UNANSWERED = ["你好，我想问一下", "我家门口的大树被台风吹倒了，压住了电动车", "", "。。。", "水",
              "Hello, is anyone there?", "Вода жёлтая", "' OR 1=1 --", "<script>alert(1)</script>"]


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request, new_database) -> Database:
    """A database of its own holding exactly the seeded knowledge base (suggestions rank every active article)."""
    database = Database(new_database(request.param))
    with database.session() as session:
        load_reference_data(session)
    yield database
    database.dispose()


def _codes_by_title(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {a.title: a.code for a in session.scalars(select(KnowledgeArticle))}


@pytest.mark.parametrize("text, code", ASKED)
def test_what_the_caller_says_finds_the_article_that_answers_it_first(seeded, text, code):
    with seeded.session() as session:
        found = suggest_articles(session, text)
    assert found, text
    assert code in _codes_by_title(seeded).values(), f"seed article {code} is gone"
    assert found[0].code == code, [(s.code, s.score) for s in found]
    assert found[0].score >= THRESHOLD and found[0].reasons and found[0].snippet
    assert all(a.score >= b.score for a, b in zip(found, found[1:]))


@pytest.mark.parametrize("text", UNANSWERED)
def test_small_talk_an_unrelated_matter_and_bad_input_suggest_nothing(seeded, text):
    with seeded.session() as session:
        assert suggest_articles(session, text) == []


def test_the_suggestions_follow_every_change_of_the_articles(seeded):
    text = "我们村的荔枝园被野猪拱了，损失很大，谁来赔偿"
    with seeded.session() as session:
        assert suggest_articles(session, text) == []
        upsert_article(session, code="t-boar", title="野猪毁坏农作物的补偿",
                       body="野猪等野生动物造成农作物损失的，可向当地林业部门报告，按野生动物致害补偿办法申请补偿。")
    with seeded.session() as session:
        [hit] = suggest_articles(session, text)
        assert hit.code == "t-boar" and "野猪" in hit.reasons
        upsert_article(session, code="t-boar", title="渔船年检",
                       body="渔船应按期到渔业船舶检验机构年检，逾期未检不得出海。")
    with seeded.session() as session:
        assert suggest_articles(session, text) == []                             # edited: no longer about boars
        upsert_article(session, code="t-boar", title="野猪毁坏农作物的补偿",
                       body="野猪等野生动物造成农作物损失的，可向当地林业部门报告申请补偿。", active=False)
    with seeded.session() as session:
        assert suggest_articles(session, text) == []                             # retired
        session.execute(KnowledgeArticle.__table__.delete().where(KnowledgeArticle.code == "t-boar"))


def test_the_api_answers_agents_and_supervisors_only(new_database, redis_server):
    rig = make_rig(new_database("sqlite"), redis_server.authenticated_url)
    try:
        with rig.app.state.db.session() as session:
            load_reference_data(session)
        path = "/api/v1/knowledge/suggestions"
        for role in ("agent", "boss"):
            response = rig.call(role, "POST", path, json={"text": "我家的自来水发黄了，有铁锈味", "limit": 2})
            assert response.status_code == 200, response.text
            [first, *rest] = response.json()
            assert first["code"] == "water-quality" and first["title"] == "自来水发黄、浑浊"
            assert "自来水发黄" in first["reasons"] and 0 < first["score"] <= 1 and len(rest) <= 1
        assert rig.call("agent", "POST", path, json={"text": ""}).json() == []
        for role in ("water", "gateway", "admin"):
            assert rig.call(role, "POST", path, json={"text": "自来水发黄"}).status_code == 403, role
        assert rig.client.post(path, json={"text": "自来水发黄"}).status_code == 401
        bad = rig.call("agent", "POST", path, json={"text": "x" * 20001})
        assert bad.status_code == 422 and bad.json()["error"]
        assert rig.call("agent", "POST", path, json={"text": "自来水", "limit": 0}).status_code == 422
        assert rig.call("agent", "POST", path, json={"text": "自来水", "extra": 1}).status_code == 422
    finally:
        close_rig(rig)
