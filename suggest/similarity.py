"""One notion of similarity for the desk: knowledge suggestions, duplicate appeals (并单) and early warning (未诉先办).

The representation is the topic model's (``suggest.features``): TF-IDF over character n-grams of the
normalised text, no word segmenter. A :class:`TextSpace` is fitted on the center's own texts (its tickets, its
knowledge articles), so what is common *there* (来电人反映, 小区, the city's name) weighs little; every text
becomes an L2-normalised sparse row, and the cosine of two texts is the dot product of their rows.

Differences from the topic model's features, each for similarity's sake:

* n-grams never cross punctuation or spaces (``，`` ``。`` join nothing), and single characters are left out:
  2- and 3-grams (发黄, 自来水) say what a matter is; single characters (水, 的) link everything to everything;
* below ``BOILERPLATE_MIN_DOCS`` texts, document frequencies say little (in nine texts, the word five of them
  share would weigh *less* than one text's noise): an n-gram then weighs by its (sub-linear) count alone;
* on a corpus of at least ``BOILERPLATE_MIN_DOCS`` texts, n-grams in more than ``BOILERPLATE_SHARE`` of them
  are the center's boilerplate (反映, 问题, 我们) and weigh nothing (``space.boilerplate`` names them): besides
  what they say, they are what would make the sparse products dense.

Operations:

* ``TextSpace.fit(texts)`` / ``space.transform(texts)`` → CSR rows, L2-normalised (an empty or foreign-script text
  is an all-zero row: similar to nothing);
* ``cosine(a, b)`` → the sparse matrix of cosines between two sets of rows;
* ``neighbours(queries, corpus, k=, threshold=)`` → for each query, the ``k`` most similar corpus rows at or
  above ``threshold``;
* ``clusters(rows, threshold, blocks=, times=, window=, links=)`` → connected components (single link) of the
  graph "cosine ≥ threshold", where edges are only looked for inside one block (an area) and, given times,
  between texts at most ``window`` apart. Not quadratic over all texts: the products are computed per block
  and per pair of adjacent time buckets, in chunks, and kept sparse (only entries ≥ threshold survive);
  ``scipy.sparse.csgraph.connected_components`` joins them;
* ``space.shared_terms(a, b)`` → the phrases two texts share that weigh most (shared n-grams joined where they
  overlap: 自来水发黄): the reason shown to an agent.

Thresholds (cosine, this representation), chosen on the TipDM 2020 *train* split only; ``python -m bench.duplicates
--calibrate`` prints the table they were read from (1,392 train messages naming a county; 3,542 rephrasings of
them: title + first sentence, sentences shuffled, filler added; 1,157 "near-miss" queries: a message against
the other messages of its county and level-1 class):

    threshold  rephrasings found  near-miss queries with a wrong neighbour
      0.20          0.992                 0.074
      0.30          0.960                 0.063
      0.35          0.936                 0.057
      0.40          0.901                 0.050
      0.50          0.833                 0.044

``SAME_MATTER`` = 0.3: 96 % of rephrasings found; the near-miss rate hardly falls above it, because 4.4 % of the
"near misses" are ≥ 0.5, and those are the same message posted twice (TipDM holds re-postings), not errors
the threshold can fix. The same table with 1-3-grams, 2-4-grams or without the boilerplate cut moved no
figure by more than 0.01: 2-3-grams are kept as the cheapest. Callers comparing other kinds of text choose their
own threshold on the same scale: early-warning rules link a cluster looser (0.15, single link), knowledge
suggestions a short question against a whole answer at 0.1 (``agent_desk.knowledge.suggestions``).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfTransformer

from suggest.features import normalize

NGRAM_RANGE = (2, 3)
SAME_MATTER = 0.3           # two appeals are the same matter (并单; see the module docstring)
BOILERPLATE_SHARE = 0.1
BOILERPLATE_MIN_DOCS = 200
CHUNK = 2048                # rows per sparse product: bounds the memory of one step
_RUNS = re.compile(r"[^\W_]+")  # letters and digits (Han characters are letters); punctuation and spaces split


def runs(text: str) -> list[str]:
    """The normalised text cut at punctuation and spaces."""
    return _RUNS.findall(normalize(text))


def ngrams(text: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[str]:
    """The character n-grams of ``text`` that never cross punctuation; a run shorter than the smallest n is
    kept whole (a two-character query 停水 still has its 2-gram; a lone 水 is kept only if it stands alone)."""
    low, high = ngram_range
    out: list[str] = []
    for run in runs(text):
        if len(run) < low:
            out.append(run)
            continue
        for n in range(low, high + 1):
            out.extend(run[i:i + n] for i in range(len(run) - n + 1))
    return out


@dataclass(frozen=True)
class Neighbour:
    index: int      # row of the corpus
    score: float    # cosine, 0..1


_BITS = 21                        # a code point fits in 21 bits: an n-gram (n ≤ 3) is one uint64
_WORD = re.compile(r"[^\W_]")


def _ngram_codes(texts: Sequence[str]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Every n-gram of every text as (text index, code): exactly ``ngrams``' n-grams, counted with numpy rather
    than string slicing (a scan reads ~56,000 tickets; ``ngrams`` in Python costs 5x more). Code of
    c1 c2 c3 = c1 << 42 | c2 << 21 | c3, of a lone character its code point: distinct for every n-gram."""
    low, high = NGRAM_RANGE
    assert low == 2 and high <= 3, NGRAM_RANGE   # what the codes and the lone-character rule below hold for
    norm = [normalize(t).replace("\x00", " ") for t in texts]
    if not norm:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    points = np.frombuffer(("\x00".join(norm) + "\x00").encode("utf-32-le"), dtype=np.uint32)
    doc = np.repeat(np.arange(len(norm), dtype=np.int64), [len(t) + 1 for t in norm])
    # which characters are letters or digits: asked once per distinct character (a table, no sort)
    distinct = np.flatnonzero(np.bincount(points))
    table = np.zeros(int(distinct[-1]) + 1, dtype=bool)
    table[distinct] = [_WORD.match(chr(c)) is not None for c in distinct.tolist()]
    word = table[points]
    cps = points.astype(np.uint64)
    docs, codes = [], []
    padded = np.concatenate([[False], word, [False]])
    lone = word & ~padded[:-2] & ~padded[2:]                 # a run of one character: kept whole
    docs.append(doc[lone])
    codes.append(cps[lone])
    for n in range(low, high + 1):
        m = max(0, len(cps) - n + 1)
        valid = np.ones(m, bool)
        code = np.zeros(m, np.uint64)
        for k in range(n):
            valid &= word[k:k + m]
            code = (code << np.uint64(_BITS)) | cps[k:k + m]
        docs.append(doc[:m][valid])
        codes.append(code[valid])
    return np.concatenate(docs), np.concatenate(codes)


def _decode(code: int) -> str:
    chars = []
    while code:
        chars.append(chr(code & ((1 << _BITS) - 1)))
        code >>= _BITS
    return "".join(reversed(chars))


class TextSpace:
    """A fitted representation: text → L2-normalised TF-IDF row over character 2-3-grams. The counting is
    ``_ngram_codes`` (numpy); the weighting is scikit-learn's ``TfidfTransformer``."""

    def __init__(self, vocabulary: np.ndarray[Any, Any] | None = None, tfidf: TfidfTransformer | None = None,
                 boilerplate: frozenset[str] = frozenset()):
        # None: nothing to learn from (no n-gram in any text): every text is a zero row
        self._vocabulary = vocabulary if vocabulary is not None else np.empty(0, np.uint64)   # sorted codes
        self._tfidf = tfidf
        self.boilerplate = boilerplate  # n-grams in more than BOILERPLATE_SHARE of the texts: weight 0

    @classmethod
    def fit(cls, texts: Iterable[str], *, idf: bool | None = None) -> TextSpace:
        """Fit on the center's own texts. Any number of texts works, none too: an unfitted vocabulary is
        empty and every text is then a zero row (similar to nothing), never an error. ``idf``: weigh n-grams by
        their document frequency (default: from ``BOILERPLATE_MIN_DOCS`` texts on; a caller comparing *other*
        texts against a small fixed set, like knowledge articles, wants it whatever the number)."""
        return cls.fit_transform(texts, idf=idf)[0]

    @classmethod
    def fit_transform(cls, texts: Iterable[str], *, idf: bool | None = None) -> tuple[TextSpace, sp.csr_matrix]:
        """The space fitted on ``texts`` and their rows (one pass over the texts)."""
        docs = list(texts)
        many = len(docs) >= BOILERPLATE_MIN_DOCS
        doc, codes = _ngram_codes(docs)
        vocabulary, columns = np.unique(codes, return_inverse=True)
        counts = _counts(doc, columns.ravel(), len(docs), len(vocabulary))
        df = np.diff(counts.tocsc().indptr)
        keep = df >= (2 if many else 1)
        if not keep.any():
            return cls(), sp.csr_matrix((len(docs), 0), dtype=np.float32)
        vocabulary, counts, df = vocabulary[keep], counts[:, keep], df[keep]
        use_idf = many if idf is None else idf
        tfidf = TfidfTransformer(sublinear_tf=True, use_idf=use_idf, norm="l2").fit(counts)
        common: frozenset[str] = frozenset()
        cut = df > BOILERPLATE_SHARE * len(docs)
        if many and use_idf and cut.any():
            # boilerplate keeps its column with weight 0: known (not a new word), but worth nothing
            weights = tfidf.idf_.copy()
            weights[cut] = 0.0
            tfidf.idf_ = weights
            common = frozenset(_decode(int(c)) for c in vocabulary[cut])
        space = cls(vocabulary, tfidf, common)
        return space, space._weigh(counts)

    @property
    def size(self) -> int:
        return len(self._vocabulary)

    def term(self, column: int) -> str:
        return _decode(int(self._vocabulary[column]))

    def terms_of(self, row: sp.csr_matrix, n: int | None = None) -> list[str]:
        """The n-grams (of length ``n`` if given) a row weighs: boilerplate and unseen n-grams are not in it."""
        codes = self._vocabulary[sp.csr_matrix(row).indices]
        if n is not None:
            low, high = 1 << (_BITS * (n - 1)), 1 << (_BITS * n)
            codes = codes[(codes >= low) & (codes < high)]
        return [_decode(int(c)) for c in codes]

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        docs = list(texts)
        if self._tfidf is None:
            return sp.csr_matrix((len(docs), 0), dtype=np.float32)
        doc, codes = _ngram_codes(docs)
        columns = np.searchsorted(self._vocabulary, codes)
        known = columns < len(self._vocabulary)
        known[known] = self._vocabulary[columns[known]] == codes[known]
        return self._weigh(_counts(doc[known], columns[known], len(docs), len(self._vocabulary)))

    def _weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        assert self._tfidf is not None
        rows = sp.csr_matrix(self._tfidf.transform(counts), dtype=np.float32)
        rows.eliminate_zeros()   # boilerplate's zero weights: kept out of the sparse products
        return rows

    def vector(self, text: str) -> sp.csr_matrix:
        return self.transform([text])

    def shared_terms(self, a: str, b: str, limit: int = 3, rows: tuple[sp.csr_matrix, sp.csr_matrix] | None = None
                     ) -> list[str]:
        """What two texts share that weighs most, as the words people say: the shared n-grams joined where
        they overlap in ``a``'s runs (自来 + 来水 + 水发 + 发黄 → 自来水发黄), heaviest phrase first (weight: the
        sum of its n-grams' products of the two rows), at most ``limit``. ``rows``: the two texts' rows if
        already transformed."""
        ra, rb = rows if rows is not None else (self.vector(a), self.vector(b))
        product = ra.multiply(rb).tocoo()
        if not product.nnz:
            return []
        weight = {self.term(col): w for w, col in zip(product.data.tolist(), product.col.tolist())}
        low, high = NGRAM_RANGE
        phrases: dict[str, float] = {}
        for run in runs(a):
            spans = sorted((i, i + n, weight[run[i:i + n]]) for n in range(low, high + 1)
                           for i in range(len(run) - n + 1) if run[i:i + n] in weight)
            merged: list[list[float]] = []   # [start, end, weight]: spans joined only where they overlap
            for begin, finish, w in spans:
                if merged and begin < merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], finish)
                    merged[-1][2] += w
                else:
                    merged.append([begin, finish, w])
            for start, end, total in merged:
                phrase = run[int(start):int(end)]
                phrases[phrase] = max(phrases.get(phrase, 0.0), total)
        chosen = sorted(phrases, key=lambda p: (-phrases[p], p))
        return chosen[:limit]


def _counts(doc: np.ndarray[Any, Any], columns: np.ndarray[Any, Any], n_docs: int, n_terms: int) -> sp.csr_matrix:
    """The count matrix (texts × n-grams) of (text, column) occurrences: duplicates summed."""
    data = np.ones(len(doc), dtype=np.float64)
    return sp.csr_matrix((data, (doc, columns)), shape=(n_docs, n_terms))


def cosine(a: sp.spmatrix, b: sp.spmatrix) -> sp.csr_matrix:
    """Cosines between every row of ``a`` and every row of ``b`` (rows L2-normalised), sparse."""
    return sp.csr_matrix(a @ b.T)


def neighbours(queries: sp.spmatrix, corpus: sp.spmatrix, *, k: int = 5,
               threshold: float = SAME_MATTER) -> list[list[Neighbour]]:
    """For each query row, the ``k`` most similar corpus rows with cosine ≥ ``threshold``, best first (ties:
    the lower row first)."""
    out: list[list[Neighbour]] = []
    if k <= 0:
        return [[] for _ in range(queries.shape[0])]
    scores = cosine(queries, corpus)
    for i in range(scores.shape[0]):
        row = scores.getrow(i)
        pairs = [(int(c), float(v)) for c, v in zip(row.indices, row.data) if v >= threshold]
        pairs.sort(key=lambda cv: (-cv[1], cv[0]))
        out.append([Neighbour(c, round(v, 4)) for c, v in pairs[:k]])
    return out


def _edges_between(rows: sp.csr_matrix, left: np.ndarray[Any, Any], right: np.ndarray[Any, Any],
                   threshold: float, chunk: int = CHUNK) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Pairs (i, j), i from ``left``, j from ``right`` (global indexes), i < j, cosine ≥ threshold."""
    found_i, found_j = [], []
    target = rows[right].T.tocsc()
    for start in range(0, len(left), chunk):
        part = left[start:start + chunk]
        product = (rows[part] @ target).tocoo()
        keep = product.data >= threshold
        gi, gj = part[product.row[keep]], right[product.col[keep]]
        upper = gi < gj
        found_i.append(gi[upper])
        found_j.append(gj[upper])
    if not found_i:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(found_i), np.concatenate(found_j)


def similar_pairs(rows: sp.csr_matrix, threshold: float = SAME_MATTER, *, blocks: Sequence[Hashable] | None = None,
                  times: Sequence[float] | None = None, window: float | None = None, chunk: int = CHUNK
                  ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Every pair (i < j) of rows with cosine ≥ ``threshold``, looked for only inside a block and, with
    ``times`` (seconds) and ``window``, only between rows at most ``window`` apart. Cost: per block, each time
    bucket (``window`` wide) against itself and the next, never all against all."""
    rows = sp.csr_matrix(rows)
    n = rows.shape[0]
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(blocks if blocks is not None else [None] * n):
        groups.setdefault(key, []).append(i)
    stamp = np.asarray(times, dtype=np.float64) if times is not None else None
    all_i, all_j = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for members in groups.values():
        idx = np.asarray(members, dtype=np.int64)
        if len(idx) < 2:
            continue
        if stamp is None or window is None or window <= 0:
            buckets = [idx]
            pairs = [(0, 0)]
        else:
            bucket_of = np.floor((stamp[idx] - stamp[idx].min()) / window).astype(np.int64)
            keys = np.unique(bucket_of)
            buckets = [idx[bucket_of == b] for b in keys]
            position = {int(b): p for p, b in enumerate(keys)}
            pairs = [(p, p) for p in range(len(keys))] + \
                    [(p, position[int(b) + 1]) for p, b in enumerate(keys) if int(b) + 1 in position]
        for a, b in pairs:
            left, right = buckets[a], buckets[b]
            if a != b:   # adjacent buckets: both directions, so i < j holds whichever bucket i is in
                gi, gj = _edges_between(rows, left, right, threshold, chunk)
                hi, hj = _edges_between(rows, right, left, threshold, chunk)
                gi, gj = np.concatenate([gi, hi]), np.concatenate([gj, hj])
            else:
                gi, gj = _edges_between(rows, left, right, threshold, chunk)
            if stamp is not None and window is not None and window > 0 and len(gi):
                near = np.abs(stamp[gi] - stamp[gj]) <= window
                gi, gj = gi[near], gj[near]
            all_i.append(gi)
            all_j.append(gj)
    return np.concatenate(all_i), np.concatenate(all_j)


def clusters(rows: sp.csr_matrix, threshold: float = SAME_MATTER, *, blocks: Sequence[Hashable] | None = None,
             times: Sequence[float] | None = None, window: float | None = None,
             links: Iterable[tuple[int, int]] = ()) -> np.ndarray[Any, Any]:
    """A cluster label per row: single-link components of "cosine ≥ threshold" (within blocks and the time
    window, see ``similar_pairs``) plus any extra ``links`` (pairs of rows the caller knows belong together,
    e.g. the same matter key). A row similar to nothing is a cluster of its own."""
    n = rows.shape[0]
    gi, gj = similar_pairs(rows, threshold, blocks=blocks, times=times, window=window)
    extra = np.asarray(list(links), dtype=np.int64).reshape(-1, 2)
    i = np.concatenate([gi, extra[:, 0]])
    j = np.concatenate([gj, extra[:, 1]])
    graph = sp.coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)
