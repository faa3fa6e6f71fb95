"""What lets training scale: hashed n-grams named back from the text, the window of recent examples, the length
cap, counts shared between the trial and the final fit, and reasons only where they are read."""

from __future__ import annotations

import numpy as np
import pytest

import suggest
from suggest import training
from suggest.features import MAX_CHARS, Counts, Features
from tests.support.suggestions import rewrite_header
from tests.unit.test_suggest import MATTERS, examples


@pytest.fixture(scope="module")
def model() -> suggest.Model:
    texts, labels = examples()
    return suggest.train(texts, labels)


def test_every_column_of_a_text_is_named_by_one_of_its_own_ngrams():
    text = "公司拖欠工资。老板三个月不发工资"
    fitted = Features(min_df=1)
    x = fitted.fit_transform([text, "小区停水两天"])[0]
    named = fitted.ngrams(text)
    words = x.indices[x.indices < fitted.n_words]
    assert len(words) > 0
    assert all(int(c) in named for c in words), "a column of the text without its n-gram"
    assert all(named[int(c)] in text for c in words)
    assert "工资" in named.values() and "拖欠" in named.values()


def test_an_ngram_seen_in_one_text_only_weighs_nothing():
    fitted = Features()
    x = fitted.fit_transform(["甲乙丙", "甲乙丁"])
    assert x.nnz > 0
    seen_once = fitted.ngrams("甲乙丙").keys() - fitted.ngrams("甲乙丁").keys()
    assert seen_once and not set(x[0].indices) & seen_once


def test_a_long_text_is_read_up_to_max_chars():
    start = "拖欠工资" * (MAX_CHARS // 4)
    assert Counts.of([start + "停水停电"]).text.nnz == Counts.of([start]).text.nnz
    assert (Counts.of([start + "停水停电"]).text != Counts.of([start]).text).nnz == 0


def test_counts_made_once_give_what_the_texts_give():
    texts, _ = examples()
    counts = Counts.of(texts)
    rows = np.array([3, 0, 7])
    direct = Counts.of([texts[i] for i in rows])
    assert (counts.rows(rows).text != direct.text).nnz == 0
    assert (counts.rows(rows).head != direct.head).nnz == 0


def test_reasons_only_for_the_first_explained(model):
    found = model.top_k("老板拖欠我的工资，还不给交社保", k=3, explain=1)
    assert found[0].reasons and all(not s.reasons for s in found[1:])
    every = model.top_k("老板拖欠我的工资，还不给交社保", k=3)
    assert [s.label for s in found] == [s.label for s in every]
    assert found[0].reasons == every[0].reasons


def test_only_the_most_recent_window_is_learnt_and_rare_labels_in_it_are_left_out(monkeypatch):
    texts, labels = examples()
    old = [f"{t}很久以前" for t in texts[:5]]
    texts, labels = old + texts, ["已撤销的话题"] * 5 + labels
    monkeypatch.setattr(training, "WINDOW", len(texts) - 2)   # three of the old five stay: too rare to learn
    model, held = training.train_held_out(texts, labels)
    assert sorted(model.labels) == sorted(MATTERS)
    assert model.n_examples == len(texts) - 5
    assert all(i >= 5 for i in held.index)
    assert all(texts[i] == t and labels[i] == label for i, t, label in zip(held.index, held.texts, held.labels,
                                                                          strict=True))
    assert training.fit(texts, labels).labels == model.labels


def test_an_old_format_file_is_refused_with_train_again(tmp_path, model):
    path = tmp_path / "topic.model"
    suggest.save(model, path)
    rewrite_header(path, format=2)
    with pytest.raises(suggest.ModelFileError, match="train the model again"):
        suggest.load(path)

