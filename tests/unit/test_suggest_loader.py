"""The desk's model loader (agent_desk.learning.current_model) and the model's context and odd inputs."""

from __future__ import annotations

import logging
import os

import pytest

import suggest
from agent_desk.learning import current_model, model_path
from agent_desk.learning.loader import forget
from suggest import store, training
from tests.unit.test_suggest import examples

LOADER = "agent_desk.learning.loader"


@pytest.fixture(autouse=True)
def _fresh_cache():
    forget()
    yield
    forget()


@pytest.fixture(scope="module")
def model() -> suggest.Model:
    texts, labels = examples()
    return suggest.train(texts, labels)


def _warnings(caplog):
    return [r for r in caplog.records if r.name == LOADER and r.levelno == logging.WARNING]


def test_no_model_file_means_rules_with_one_warning(tmp_path, caplog):
    caplog.set_level(logging.WARNING, LOADER)
    assert current_model(tmp_path, "topic") is None
    assert current_model(tmp_path, "topic") is None
    found = _warnings(caplog)
    assert len(found) == 1 and "no topic model yet" in found[0].getMessage()


def test_the_model_in_use_is_read_once_and_again_when_replaced(model, tmp_path, caplog):
    caplog.set_level(logging.WARNING, LOADER)
    suggest.save(model, model_path(tmp_path, "unit"))
    first = current_model(tmp_path, "unit")
    assert isinstance(first, suggest.Model) and first.labels == model.labels
    assert current_model(tmp_path, "unit") is first  # unchanged file: the same object, not read again
    texts, labels = examples()
    other = training.fit(texts + ["路灯坏了没人修"] * 5, labels + ["市政"] * 5)
    suggest.save(other, model_path(tmp_path, "unit"))
    second = current_model(tmp_path, "unit")
    assert second is not first and "市政" in second.labels
    assert not _warnings(caplog)


def test_a_corrupt_file_means_rules_with_one_warning_until_it_changes(model, tmp_path, caplog):
    caplog.set_level(logging.WARNING, LOADER)
    path = model_path(tmp_path, "topic")
    suggest.save(model, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # cut short: the header reads, the model does not
    assert current_model(tmp_path, "topic") is None
    assert current_model(tmp_path, "topic") is None
    assert len(_warnings(caplog)) == 1 and "damaged topic model" in _warnings(caplog)[0].getMessage()
    path.write_bytes(b"rubbish")
    os.utime(path, ns=(1, 1))
    assert current_model(tmp_path, "topic") is None
    assert len(_warnings(caplog)) == 2 and "not a suggestion model" in _warnings(caplog)[1].getMessage()


def test_a_model_of_another_format_means_rules(model, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, LOADER)
    monkeypatch.setattr(store, "FORMAT_VERSION", store.FORMAT_VERSION + 1)
    suggest.save(model, model_path(tmp_path, "topic"))
    monkeypatch.undo()
    assert current_model(tmp_path, "topic") is None
    assert "train the model again" in _warnings(caplog)[0].getMessage()


def test_an_unknown_target_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="unknown suggestion target"):
        current_model(tmp_path, "mood")  # type: ignore[arg-type]


# ── the model: context, odd text ──────────────────────────────────────────
def _contextual_examples():
    """The same words, two places: 三亚 sends them to one label, 海口 to the other."""
    texts, labels, contexts = [], [], []
    for i in range(40):
        texts.append(f"道路问题第{i}号，路面坏了")
        town = "吉阳区" if i % 2 else "龙华区"
        labels.append("三亚交通" if i % 2 else "海口交通")
        contexts.append({"county": town, "subplatform": "sanya" if i % 2 else "haikou", "line": "12345"})
    for i in range(20):
        texts.append(f"孩子入学没有学位{i}")
        labels.append("教育")
        contexts.append({"county": "龙华区"})
    return texts, labels, contexts


def test_the_place_weighs_in_when_the_words_do_not_decide():
    texts, labels, contexts = _contextual_examples()
    model = suggest.train(texts, labels, contexts=contexts)
    text = "路面坏了，道路问题"
    assert model.top_k(text, k=1, context={"county": "吉阳区", "subplatform": "sanya"})[0].label == "三亚交通"
    assert model.top_k(text, k=1, context={"county": "龙华区", "subplatform": "haikou"})[0].label == "海口交通"
    plain = model.top_k(text, k=3)
    assert plain == model.top_k(text, 3) == model.top_k(text, k=3, context=None)  # backwards compatible
    # unknown keys and values add nothing
    assert model.top_k(text, k=3, context={"county": "火星区", "colour": "red", "town": ""}) == plain
    assert all(r in text for s in model.top_k(text, context={"county": "吉阳区"}) for r in s.reasons)


@pytest.mark.parametrize("text", ["", " ", "的", "hello world", "Привет мир", "😀😀", "1234567", "。，！"])
def test_empty_one_word_or_foreign_text_gives_low_confidence_never_an_error(model, text):
    found = model.top_k(text, k=3, context={"county": "不存在的县"})
    assert len(found) == 3
    assert found[0].confidence < 0.7, found
    assert sum(s.confidence for s in found) <= 1.0 + 1e-6


def test_only_keeps_retired_labels_out(model):
    found = model.top_k("公司拖欠工资", k=3, only={"供水", "教育"})
    assert [s.label for s in found] and {s.label for s in found} <= {"供水", "教育"}
    assert model.top_k("公司拖欠工资", k=3, only=set()) == []


def test_many_examples_take_one_fit_and_a_held_out_calibration(monkeypatch):
    from suggest import classifier
    monkeypatch.setattr(classifier, "LARGE", 20)
    texts, labels = examples()
    model = training.fit(texts, labels)
    assert len(model.classifier.calibrated_classifiers_) == 1
    best = model.top_k("老板拖欠我的工资，还不给交社保", k=3)
    assert best[0].label == "劳动社保" and best[0].reasons
    assert abs(sum(s.confidence for s in model.top_k("停水", k=3)) - 1.0) < 1e-5
