"""suggest.similarity: the shared representation, cosine, neighbours, blocked clustering and the reasons."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from suggest.similarity import SAME_MATTER, TextSpace, clusters, cosine, neighbours, ngrams, similar_pairs

YELLOW = ["金海岸小区自来水发黄，有铁锈味。", "家里水龙头出来的自来水发黄浑浊，不敢饮用。",
          "今天早上开始自来水浑浊发黄，烧开后有沉淀。", "小区自来水发黄已经两天了，请水务部门核查。"]
OTHER = ["银海路路面坑洼，雨天积水，车辆难行。", "某工地拖欠工资三个月，劳动监察不管。", "夜间施工噪音扰民到凌晨。",
         "孩子入学报名没有学位，学校不收。", "幼儿园乱收费，学费太贵。", "社保卡丢了怎么挂失补办？"]


@pytest.fixture(scope="module")
def space() -> TextSpace:
    return TextSpace.fit(YELLOW + OTHER)


def test_ngrams_never_cross_punctuation_and_keep_a_short_run_whole():
    assert ngrams("停水，水。") == ["停水", "水"]
    assert "水发" in ngrams("自来水发黄") and "自来水" in ngrams("自来水发黄")
    assert not any("，" in g or " " in g for g in ngrams("自来水，发黄 严重"))
    assert ngrams("ＡＢＣ１２") == ["ab", "bc", "c1", "12", "abc", "bc1", "c12"]   # NFKC, lower case


def test_rows_are_l2_normalised_and_the_same_matter_is_closer_than_any_other(space: TextSpace):
    rows = space.transform(YELLOW + OTHER)
    norms = np.sqrt(rows.multiply(rows).sum(axis=1)).A1
    assert np.allclose(norms, 1.0, atol=1e-5)
    scores = cosine(rows, rows).toarray()
    for i in range(len(YELLOW)):
        same = [scores[i, j] for j in range(len(YELLOW)) if j != i]
        other = scores[i, len(YELLOW):]
        assert min(same) > max(other), (i, same, other)


def test_neighbours_are_the_top_k_above_the_threshold_best_first(space: TextSpace):
    rows = space.transform(YELLOW + OTHER)
    [found] = neighbours(space.transform(["我家自来水发黄了"]), rows, k=2, threshold=0.1)
    assert len(found) == 2 and {n.index for n in found} <= set(range(len(YELLOW)))
    assert found[0].score >= found[1].score >= 0.1
    [none] = neighbours(space.transform(["社保缴费基数"]), rows[:len(YELLOW)], k=5, threshold=SAME_MATTER)
    assert none == []
    assert neighbours(rows[:2], rows, k=0) == [[], []]


def test_empty_foreign_or_unfitted_text_is_similar_to_nothing_and_never_raises(space: TextSpace):
    rows = space.transform(["", "。。！", "Hello world", "Привет мир"])
    assert rows.shape == (4, space.size) and cosine(rows, space.transform(YELLOW)).nnz == 0
    for empty in (TextSpace.fit([]), TextSpace.fit(["，。", ""])):
        assert empty.size == 0
        assert empty.transform(YELLOW).shape == (len(YELLOW), 0)
        assert neighbours(empty.transform(["自来水"]), empty.transform(YELLOW), threshold=0.0) == [[]]
        assert empty.shared_terms("自来水发黄", "自来水发黄") == []


def test_clusters_join_similar_rows_single_link_within_blocks_and_the_time_window(space: TextSpace):
    rows = space.transform(YELLOW + OTHER)
    # ten texts weigh n-grams poorly (each is in one or two): the yellow ones are 0.06-0.29 apart, others 0
    labels = clusters(rows, 0.05)
    assert len({labels[i] for i in range(len(YELLOW))}) == 1
    assert len(set(labels)) == 1 + len(OTHER)
    # two blocks (areas): the same words never join across them
    blocks = ["a", "b", "a", "b"] + ["a"] * len(OTHER)
    labels = clusters(rows, 0.05, blocks=blocks)
    assert labels[0] == labels[2] and labels[1] == labels[3] and labels[0] != labels[1]
    # a day's window: the yellow appeals 0 h, 10 h, 50 h, 60 h: two pairs, not one chain
    hour = 3600.0
    times = [0, 10 * hour, 50 * hour, 60 * hour] + [0.0] * len(OTHER)
    labels = clusters(rows, 0.05, times=times, window=24 * hour)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[1] != labels[2]
    # extra links (the same matter key) join rows whatever their words
    labels = clusters(rows, 0.05, links=[(len(YELLOW), len(YELLOW) + 1)])
    assert labels[len(YELLOW)] == labels[len(YELLOW) + 1] != labels[0]


def test_blocked_pairs_equal_the_all_pairs_product_restricted_to_block_and_window():
    rng = np.random.default_rng(7)
    rows = sp.random(300, 40, density=0.15, format="csr", random_state=8, dtype=np.float32)
    norms = np.sqrt(rows.multiply(rows).sum(axis=1)).A1
    rows = sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ rows)
    blocks = rng.integers(0, 4, 300).tolist()
    times = rng.uniform(0, 10, 300).tolist()
    gi, gj = similar_pairs(rows, 0.4, blocks=blocks, times=times, window=1.5, chunk=37)
    full = (rows @ rows.T).toarray()
    want = {(i, j) for i in range(300) for j in range(i + 1, 300)
            if full[i, j] >= 0.4 and blocks[i] == blocks[j] and abs(times[i] - times[j]) <= 1.5}
    assert set(zip(gi.tolist(), gj.tolist())) == want and len(gi) == len(want) > 0


def test_the_reason_is_the_phrase_two_texts_share(space: TextSpace):
    assert space.shared_terms(YELLOW[0], YELLOW[3]) == ["小区自来水发黄"]
    assert space.shared_terms(YELLOW[1], YELLOW[2])[0] in {"自来水", "浑浊", "发黄"}
    assert "自来水浑浊发黄" not in space.shared_terms(YELLOW[1], YELLOW[2])   # joined only where n-grams overlap
    assert space.shared_terms(YELLOW[0], OTHER[1]) == []


def test_the_same_matter_threshold_is_the_one_calibrated_on_tipdm_train():
    assert SAME_MATTER == 0.3   # bench/duplicates.py --calibrate; change both together


def test_the_numpy_counting_finds_exactly_the_ngrams_of_the_python_analyzer():
    from sklearn.feature_extraction.text import CountVectorizer

    from suggest.similarity import _counts, _decode, _ngram_codes

    texts = YELLOW + OTHER + ["水", "停水，水。", "ＡＢＣ１２ abc", "", "。。", "Привет мир", "a_b水-c",
                              "𠀀𠀁𠀂 emoji 😀😀"]
    reference = CountVectorizer(analyzer=ngrams, lowercase=False)
    expected = reference.fit_transform(texts).toarray()
    doc, codes = _ngram_codes(texts)
    vocabulary, columns = np.unique(codes, return_inverse=True)
    got = _counts(doc, columns.ravel(), len(texts), len(vocabulary)).toarray()
    terms = [_decode(int(c)) for c in vocabulary]
    assert sorted(terms) == sorted(reference.get_feature_names_out())
    order = [terms.index(t) for t in reference.get_feature_names_out()]
    assert (got[:, order] == expected).all()
