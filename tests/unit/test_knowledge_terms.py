"""Index terms for Chinese text (agent_desk/knowledge/terms.py) and the coverage rule of the search."""

from __future__ import annotations

import pytest

from agent_desk.knowledge.search import _snippet, required_terms
from agent_desk.knowledge.models import KnowledgeArticle
from agent_desk.knowledge.terms import MAX_QUERY_TERMS, document_terms, fold, query_terms, runs


def test_documents_hold_characters_and_bigrams():
    assert document_terms("社保卡") == "社 保 卡 社保 保卡"


def test_punctuation_and_spaces_separate_runs():
    assert document_terms("停水，报修") == "停 水 停水 报 修 报修"  # no 水报 across the comma


def test_latin_and_digits_are_lower_case_words():
    assert document_terms("拨打12345或ＡＰＰ") == "拨 打 拨打 12345 或 app"


def test_fold_keeps_one_character_for_one():
    text = "ＡＢＣ１２３，社保㎡"
    assert len(fold(text)) == len(text)
    assert fold(text).startswith("abc123,")


@pytest.mark.parametrize("query, terms", [
    ("社保", ["社保"]),
    ("卡", ["卡"]),
    ("社保卡", ["社保", "保卡"]),
    ("社保 卡", ["社保", "卡"]),
    ("居住证 居住", ["居住", "住证"]),          # no repeats
    ('"社保" NEAR(x) -y *', ["社保", "near", "x", "y"]),
    ("'; DROP TABLE t; --", ["drop", "table", "t"]),
    ("？？？ *** \"\"", []),
    ("社保卡丢了怎么办", ["社保", "保卡", "卡丢", "丢了", "办"]),  # question words left out
    ("怎么办理个体户", ["办理", "理个", "个体", "体户"]),
    ("居住证需要什么材料", ["居住", "住证", "材料"]),
    ("咨询", ["咨询"]),                              # unless there is nothing else
])
def test_query_terms(query, terms):
    assert query_terms(query) == terms


def test_query_terms_are_capped():
    assert len(query_terms("".join(chr(0x4E00 + i) for i in range(100)))) == MAX_QUERY_TERMS


def test_runs():
    assert runs("海南12345热线") == ["海南", "12345", "热线"]


@pytest.mark.parametrize("count, required", [(1, 1), (2, 2), (3, 2), (4, 2), (5, 3), (10, 5)])
def test_required_terms(count, required):
    assert required_terms(count) == required


def test_snippet_marks_matches_in_the_original_text():
    article = KnowledgeArticle(title="标题", body="前" * 30 + "请携带ＩＤ卡和社保卡到窗口办理" + "后" * 80, tags=[])
    snippet = _snippet(article, query_terms("社保卡 id"), runs("社保卡 id"))
    assert "【ＩＤ】卡和【社保卡】到窗口" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
