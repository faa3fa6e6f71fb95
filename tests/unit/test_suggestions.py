"""Ranking suggestions: rules first and marked, the model within and beyond them, retired codes never shown;
and what the agent's choice counts as. A small real model trained here on hand-made messages."""

from __future__ import annotations

import datetime as dt

import pytest

import suggest
from agent_desk.suggestions import outcomes
from agent_desk.suggestions import text as T
from agent_desk.suggestions.service import Item, Place, merge, model_ranking, model_version, topic_rules
from hotline.reference import topic_names
from tests.support.suggestions import TOPICS, trained

NAMES = topic_names()


def known(code: str):
    return (NAMES[code], None) if code in NAMES else None


@pytest.fixture(scope="module")
def model() -> suggest.Model:
    return trained(TOPICS)


def rule(code: str, *keywords: str) -> Item:
    return Item(code, NAMES.get(code, code), None, True, keywords, T.topic_rule_why(keywords))


def test_the_model_alone_ranks_by_confidence_with_its_words(model):
    ranked = model_ranking(model, "老板拖欠工资不发", Place(subplatform="460100"), 10)
    items = merge([], ranked, known)
    assert [i.code for i in items][0] == "08-labour"
    assert len(items) == 3 and not any(i.rule for i in items)
    confidences = [i.confidence for i in items]
    assert confidences == sorted(confidences, reverse=True) and confidences[0] > 0.5
    assert any("工资" in r or "拖欠" in r for r in items[0].reasons)
    assert items[0].why.startswith("学习模型")


def test_a_matching_rule_comes_first_even_when_the_model_prefers_another(model):
    # the water keyword rule (停水) matches, the model is sure it is about wages: the rule still leads
    text = "老板拖欠工资不发，家里停水"
    rules = topic_rules(text)
    assert [r.code for r in rules][:2] in (["08-labour", "03-water"], ["03-water", "08-labour"])
    only_water = [r for r in rules if r.code == "03-water"]
    items = merge(only_water, model_ranking(model, text, Place(), 10), known)
    assert items[0].code == "03-water" and items[0].rule
    assert items[0].confidence is not None   # the model's own view of the rule is shown too
    assert "停水" in items[0].reasons and items[0].why == T.topic_rule_why(("停水",))
    assert items[1].code == "08-labour" and not items[1].rule


def test_the_model_orders_the_rules_among_themselves(model):
    text = "老板拖欠工资不发，家里停水"
    rules = [rule("03-water", "停水"), rule("08-labour", "工资", "拖欠")]
    items = merge(rules, model_ranking(model, text, Place(), 10), known)
    assert [i.code for i in items[:2]] == ["08-labour", "03-water"]   # the model finds wages likelier
    assert all(i.rule for i in items[:2])


def test_rules_the_model_does_not_know_keep_their_order_after_those_it_ranks(model):
    rules = [rule("13-conduct", "推诿"), rule("11-tax", "发票"), rule("08-labour", "工资")]
    items = merge(rules, model_ranking(model, "工资被拖欠，办事推诿，发票", Place(), 10), known)
    assert [i.code for i in items] == ["08-labour", "13-conduct", "11-tax"]
    assert [i.confidence is None for i in items] == [False, True, True]


def test_without_a_model_rules_only_in_their_own_order():
    rules = topic_rules("小区停水，物业不管，电梯也坏了")
    items = merge(rules, [], known)
    assert [i.code for i in items] == ["03-housing", "03-water"]   # 物业 + 电梯 + 小区 beat 停水
    assert all(i.rule and i.confidence is None for i in items)


def test_a_retired_or_unknown_code_is_never_shown(model):
    ranked = model_ranking(model, "老板拖欠工资不发", Place(), 10)
    retired = {"08-labour"}
    items = merge([rule("08-labour", "工资"), rule("99-gone", "x")], ranked,
                  lambda code: None if code in retired else known(code))
    assert "08-labour" not in [i.code for i in items] and "99-gone" not in [i.code for i in items]
    assert len(items) == 2   # the model knows three labels; one is retired


def test_each_code_once_at_most_three():
    rules = [rule("03-water", "停水"), rule("03-water", "水压"), rule("08-labour", "工资"),
             rule("01-education", "学校"), rule("11-tax", "发票")]
    items = merge(rules, [], known)
    assert [i.code for i in items] == ["03-water", "08-labour", "01-education"]


def test_place_and_the_labels_still_in_use_go_to_the_model():
    seen = {}

    class Recording:
        """Records the one call the desk makes; anything else it is asked raises."""

        def top_k(self, text, k=3, context=None, only=None):
            seen.update(text=text, k=k, context=context, only=only)
            return []

        def __getattr__(self, name):
            raise AssertionError(f"unexpected use of the model: {name}")

    model_ranking(Recording(), "停水", Place("460100", "460105", "460100-长流镇", "12345"), 10, {"03-water"})
    assert seen == {"text": "停水", "k": 10, "only": {"03-water"},
                    "context": {"subplatform": "460100", "county": "460105", "town": "460100-长流镇", "line": "12345"}}
    model_ranking(Recording(), "停水", Place(subplatform="460100"), 3)
    assert seen["context"] == {"subplatform": "460100"}   # as training reads a ticket without a town or line


def test_the_model_never_ranks_a_label_left_out(model):
    ranked = model_ranking(model, "老板拖欠工资不发", Place(), 10, {"03-water", "01-education"})
    assert {r.label for r in ranked} == {"03-water", "01-education"}


def test_model_version_names_the_model(model):
    assert model_version(model, {"version": 7}) == "v0007"
    assert model_version(model).startswith(f"n={model.n_examples} top1=")


def test_other_scripts_and_one_word_still_answer(model):
    for text in ("water stopped for two days", "水", "💧💧"):
        items = merge(topic_rules(text), model_ranking(model, text, Place(), 10), known)
        assert len(items) == 3 and all(0 <= (i.confidence or 0) <= 1 for i in items)


@pytest.mark.parametrize(("chosen", "shown", "expected"), [
    ("a", ["a", "b", "c"], "top1"), ("c", ["a", "b", "c"], "other"), ("d", ["a", "b", "c"], "overridden"),
    ("", ["a"], "none"), ("a", [], "unshown"), ("", [], "unshown"),
])
def test_what_the_choice_counts_as(chosen, shown, expected):
    assert outcomes.outcome(chosen, shown) == expected


def test_rates_leave_out_what_was_not_decided():
    tally = outcomes.Tally()
    for what in ("top1", "top1", "other", "overridden", "none", "unshown"):
        tally.add(what)
    assert tally.to_json() == {"decided": 4, "top1": 2, "other": 1, "overridden": 1, "none": 1,
                               "top1_rate": 0.5, "top3_rate": 0.75}
    assert outcomes.Tally().to_json()["top1_rate"] is None


def test_weeks_start_on_monday():
    assert outcomes.bucket_of(dt.date(2026, 12, 4), "week") == dt.date(2026, 11, 30)
    assert outcomes.bucket_of(dt.date(2026, 12, 4), "day") == dt.date(2026, 12, 4)
