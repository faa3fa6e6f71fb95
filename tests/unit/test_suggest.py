"""The topic suggester on small hand-made messages: training, top-k, reasons, refusals, the model file."""

from __future__ import annotations

import argparse
import csv
import re

import joblib
import pytest

import suggest
from suggest import store
from suggest.training import MIN_EXAMPLES, MIN_PER_LABEL
from tests.support.suggestions import rewrite_header

PLACES = ["海口市龙华区", "三亚市吉阳区", "琼海市嘉积镇", "儋州市那大镇", "文昌市文城镇", "万宁市万城镇",
          "五指山市", "东方市八所镇", "陵水县椰林镇", "澄迈县金江镇"]
MATTERS = {
    "劳动社保": ["公司拖欠工资三个月了，老板不发工资", "单位不给缴纳社保，养老保险断缴",
             "工地包工头欠薪不还，农民工讨薪"],
    "供水": ["小区停水两天了，自来水一直没来", "自来水发黄浑浊，水质有问题", "水管爆裂，供水中断，水压很低"],
    "教育": ["孩子入学报名没有学位，学校不收", "幼儿园乱收费，学费太贵", "培训机构补课收费后老师跑了"],
}


def examples() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, matters in MATTERS.items():
        for i, place in enumerate(PLACES):
            for matter in matters[i % 3: i % 3 + 2]:
                texts.append(f"我是{place}的居民，{matter}，请有关部门尽快处理。")
                labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def model() -> suggest.Model:
    texts, labels = examples()
    return suggest.train(texts, labels)


def test_train_learns_the_labels_and_keeps_its_held_out_accuracy(model):
    assert sorted(model.labels) == sorted(MATTERS)
    assert model.n_examples == len(examples()[0])
    assert set(model.held_out) == {"top1", "top3", "n"} and model.held_out["n"] > 0
    assert 0.0 <= model.held_out["top1"] <= model.held_out["top3"] <= 1.0


@pytest.mark.parametrize(("text", "label"), [
    ("老板拖欠我的工资，还不给交社保", "劳动社保"),
    ("家里停水了，自来水什么时候来", "供水"),
    ("学校不给孩子学位，入学怎么办", "教育"),
])
def test_the_right_label_comes_first(model, text, label):
    assert model.top_k(text, k=1)[0].label == label


def test_top_k_is_ordered_distinct_and_confidences_sum_to_at_most_one(model):
    found = model.top_k("公司拖欠工资", k=3)
    assert len(found) == 3
    assert len({s.label for s in found}) == 3
    confidences = [s.confidence for s in found]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-6
    assert len(model.top_k("公司拖欠工资", k=2)) == 2
    label, confidence, reasons = found[0]  # a plain (label, confidence, reasons) tuple too
    assert (label, confidence, reasons) == (found[0].label, found[0].confidence, found[0].reasons)


def test_reasons_are_the_text_s_ngrams_that_weighed_most(model):
    text = "公司拖欠工资，不交社保"
    best = model.top_k(text, k=1)[0]
    assert best.reasons, "the first suggestion must say why"
    assert all(r in text for r in best.reasons)
    assert any(word in "".join(best.reasons) for word in ("工资", "拖欠", "社保"))
    assert len(set(best.reasons)) == len(best.reasons)


def test_too_few_examples_are_refused_with_a_clear_message():
    texts, labels = examples()
    with pytest.raises(suggest.TooFewExamples, match=f"at least {MIN_EXAMPLES}"):
        suggest.train(texts[:MIN_EXAMPLES - 1], labels[:MIN_EXAMPLES - 1])


def test_a_label_with_too_few_examples_is_refused_and_named():
    texts, labels = examples()
    texts += ["路灯坏了", "井盖丢了"]
    labels += ["市政", "市政"]
    with pytest.raises(suggest.TooFewExamples, match=rf"'市政' has 2.*at least {MIN_PER_LABEL}"):
        suggest.train(texts, labels)


def test_one_label_alone_is_refused():
    with pytest.raises(suggest.TooFewExamples, match="only one label"):
        suggest.train(["停水了"] * 60, ["供水"] * 60)


def test_save_and_load_give_back_the_same_suggestions(model, tmp_path):
    path = tmp_path / "models" / "suggest.joblib"
    head = suggest.save(model, path)
    assert head["format"] == store.FORMAT_VERSION and head["held_out"] == model.held_out
    loaded = suggest.load(path)
    assert store.read_header(path)["labels"] == model.labels
    assert loaded.held_out == model.held_out
    for text in ("自来水发黄", "幼儿园乱收费", "欠薪"):
        assert loaded.top_k(text) == model.top_k(text)


def test_another_format_version_is_refused(model, tmp_path):
    path = tmp_path / "suggest.joblib"
    suggest.save(model, path)
    rewrite_header(path, format=store.FORMAT_VERSION + 1)
    with pytest.raises(suggest.ModelFileError, match="format .*train the model again"):
        suggest.load(path)


def test_another_scikit_learn_is_refused_before_unpickling_the_model(model, tmp_path, monkeypatch):
    path = tmp_path / "suggest.joblib"
    suggest.save(model, path)
    rewrite_header(path, sklearn="0.1")
    monkeypatch.setattr(joblib, "load", lambda *_: pytest.fail("the model was unpickled"))
    with pytest.raises(suggest.ModelFileError, match="scikit-learn 0.1"):
        suggest.load(path)


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "notes.joblib"
    path.write_bytes(b"not a model")
    with pytest.raises(suggest.ModelFileError, match="not a suggestion model"):
        suggest.load(path)


def test_a_label_with_exactly_the_minimum_trains():
    texts, labels = examples()
    texts += ["路灯坏了没人修", "井盖丢了很危险", "路灯不亮", "井盖松动", "路灯一直闪"][:MIN_PER_LABEL]
    labels += ["市政"] * MIN_PER_LABEL
    assert "市政" in suggest.train(texts, labels).labels


def test_reasons_keep_the_longer_ngram_instead_of_the_pieces_it_holds(model):
    for suggestion in model.top_k("自来水发黄，小区停水，学校不收，拖欠工资", k=3):
        for i, reason in enumerate(suggestion.reasons):
            assert not any(reason in other for j, other in enumerate(suggestion.reasons) if j != i), suggestion


def _write_csv(path, texts, labels):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "text", "label"])
        writer.writerows([i, "", text, label] for i, (text, label) in enumerate(zip(texts, labels, strict=True)))
    return path


def test_evaluate_prints_progress_on_stderr_and_the_scores_last(tmp_path, capsys):
    from suggest.cli import evaluate
    texts, labels = examples()
    args = argparse.Namespace(train=_write_csv(tmp_path / "train.csv", texts, labels),
                              test=_write_csv(tmp_path / "test.csv", texts[::7], labels[::7]), save=None)
    assert evaluate(args) == 0
    out, err = capsys.readouterr()
    assert "[suggest]" in err
    assert re.fullmatch(r"top1=\d\.\d{3} top3=\d\.\d{3} n=" + str(len(texts[::7])), out.strip().splitlines()[-1])


def test_evaluate_refuses_too_few_examples_with_the_reason(tmp_path, capsys):
    from suggest.cli import evaluate
    few = _write_csv(tmp_path / "few.csv", ["停水了"] * 3, ["供水"] * 3)
    assert evaluate(argparse.Namespace(train=few, test=few, save=None)) == 2
    assert "too few examples" in capsys.readouterr().err
