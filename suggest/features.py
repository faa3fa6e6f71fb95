"""Features that suit Chinese without a word segmenter: TF-IDF over character n-grams of the whole text, the
same over its opening (the title), and the place and line the appeal came from.

Chinese has no spaces, so characters and their short runs stand in for words: 欠薪, 工资, 拖欠 are
2-grams, 公积金 a 3-gram. Sub-linear term frequency keeps a long complaint that repeats one word from
drowning the rest; n-grams seen in a single message are dropped (names, addresses, one-off typos).

The n-grams are hashed (``HashingVectorizer``: an n-gram's column is its MurmurHash3 modulo ``TEXT_COLUMNS``),
not counted into a vocabulary: a vocabulary of a million tickets' n-grams held every distinct n-gram in memory
before pruning (3.9 GB for 100,000 tickets, see BENCHMARKS.md), while hashing needs no state at all, so the
counts of a set of texts are made once and shared by the held-out trial and the final fit (:meth:`counts`).
What is learnt is only the IDF (and which columns are seen in fewer than ``min_df`` texts: their IDF is 0).
Two n-grams may share a column (2^20 columns against about a million n-grams seen in 100,000 tickets): their
weights add up, which cost nothing measurable on the TipDM test split (see BENCHMARKS.md).

Because a column has no name, the reasons shown to an agent are found from the text itself: its n-grams are
extracted again and hashed the same way (:meth:`ngrams`), so a column of the text maps back to the n-gram of
*this* text that filled it (of two of the text's n-grams in one column, the longer is named).

A text is read up to ``MAX_CHARS`` characters (after the title): the median TipDM message has 253, the longest
3,702; the rest of a very long complaint tells of everything around the matter and costs time and memory.

The opening (up to the first 。, at most ``HEAD_CHARS``) gets its own n-grams, weighted ``HEAD_WEIGHT``: a
title names the matter most plainly, while the body also tells of everything around it. The context
(sub-platform, county, town, line) is one indicator column per value seen in training, weighted
``CONTEXT_WEIGHT``: a value never seen, or a key not in ``CONTEXT_KEYS``, adds nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer, FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

NGRAM_RANGE = (1, 3)
HEAD_CHARS = 64
HEAD_WEIGHT = 0.5
CONTEXT_WEIGHT = 0.5
CONTEXT_KEYS = ("subplatform", "county", "town", "line")
MAX_CHARS = 1000
TEXT_COLUMNS = 2 ** 20
HEAD_COLUMNS = 2 ** 18
_SPACES = re.compile(r"\s+")

Context = Mapping[str, str] | None


def normalize(text: str) -> str:
    """Full-width letters and digits to half-width (NFKC), lower case, runs of white space to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def capped(text: str) -> str:
    """:func:`normalize`, then at most ``MAX_CHARS`` characters."""
    return normalize(text[:MAX_CHARS * 2])[:MAX_CHARS]


def join_title(title: str, text: str) -> str:
    """A message's title and body as one text (the title names the matter most plainly)."""
    title, text = title.strip(), text.strip()
    return f"{title}。{text}" if title and text else title or text


def head(text: str) -> str:
    """The text's opening: its title when it was joined by :func:`join_title`."""
    return text.split("。", 1)[0][:HEAD_CHARS]


def context_items(context: Context) -> dict[str, float]:
    """``{"county=…": 1.0, …}`` for the known keys with a non-empty text value; anything else is ignored."""
    if not context:
        return {}
    items: dict[str, float] = {}
    for key in CONTEXT_KEYS:
        value = context.get(key)
        if isinstance(value, str) and value.strip():
            items[f"{key}={value.strip()}"] = 1.0
    return items


def hasher(columns: int) -> HashingVectorizer:
    """Raw counts of character n-grams, hashed into ``columns`` (no sign flips: a count stays a count)."""
    return HashingVectorizer(analyzer="char", ngram_range=NGRAM_RANGE, preprocessor=capped, n_features=columns,
                             alternate_sign=False, norm=None, dtype=np.float32)


_TEXT = hasher(TEXT_COLUMNS)
_HEAD = hasher(HEAD_COLUMNS)
_ANALYZE = _TEXT.build_analyzer()
_ANALYZE_HEAD = _HEAD.build_analyzer()
# The last single text hashed and named, with what it gave: both models of the desk read the same text in a row,
# and hashing is what their featurizers share (it has no state). One entry, replaced whole (atomic for threads).
_last_counts: tuple[str, Counts] | None = None
_last_ngrams: tuple[str, dict[int, str]] | None = None


def _remember_counts(text: str, counts: Counts) -> None:
    global _last_counts
    _last_counts = (text, counts)


class Counts:
    """The hashed n-gram counts of some texts (text and opening): stateless, so made once and shared (never
    changed in place: weighting copies)."""

    def __init__(self, text: sp.csr_matrix, head: sp.csr_matrix) -> None:
        self.text, self.head = text, head

    @classmethod
    def of(cls, texts: Sequence[str]) -> Counts:
        if len(texts) == 1:   # the desk asks the topic and the unit model about the same text, one after the other
            last = _last_counts
            if last is not None and last[0] == texts[0]:
                return last[1]
        counts = cls(_TEXT.transform(texts), _HEAD.transform([head(t) for t in texts]))
        if len(texts) == 1:
            _remember_counts(texts[0], counts)
        return counts

    def rows(self, index: Sequence[int] | np.ndarray) -> Counts:
        return Counts(self.text[index], self.head[index])

    def __len__(self) -> int:
        return int(self.text.shape[0])


def _fit_idf(counts: sp.csr_matrix, min_df: int) -> TfidfTransformer:
    idf = TfidfTransformer(sublinear_tf=True).fit(counts)
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf.idf_ = np.where(df >= min_df, idf.idf_, 0.0).astype(idf.idf_.dtype)   # seen once: a name, a typo
    return idf


def _weighted(idf: TfidfTransformer, counts: sp.csr_matrix) -> sp.csr_matrix:
    x = idf.transform(counts, copy=True)
    x.eliminate_zeros()
    return sp.csr_matrix(x)


class Features:
    """Text, opening and context as one sparse row per example: the first ``n_words`` columns are the text's
    hashed n-grams then the opening's, the rest the context's."""

    def __init__(self, head_weight: float = HEAD_WEIGHT, context_weight: float = CONTEXT_WEIGHT,
                 min_df: int = 2) -> None:
        self.head_weight = head_weight
        self.context_weight = context_weight
        self.min_df = min_df
        self.text: TfidfTransformer | None = None
        self.head: TfidfTransformer | None = None
        self.context = DictVectorizer(dtype=np.float32)
        self.n_words = TEXT_COLUMNS + HEAD_COLUMNS

    def fit_transform(self, texts: Sequence[str], contexts: Sequence[Context] | None = None,
                      counts: Counts | None = None) -> sp.csr_matrix:
        counts = counts if counts is not None else Counts.of(texts)
        self.text = _fit_idf(counts.text, self.min_df)
        self.head = _fit_idf(counts.head, self.min_df) if self.head_weight else None
        self.context.fit([context_items(c) for c in self._contexts(texts, contexts)])
        return self.transform(texts, contexts, counts)

    def transform(self, texts: Sequence[str], contexts: Sequence[Context] | None = None,
                  counts: Counts | None = None) -> sp.csr_matrix:
        if self.text is None:
            raise ValueError("the features are not fitted")
        counts = counts if counts is not None else Counts.of(texts)
        head_part = (self.head_weight * _weighted(self.head, counts.head) if self.head is not None
                     else sp.csr_matrix(counts.head.shape, dtype=np.float32))
        context_part = self.context_weight * self.context.transform(
            [context_items(c) for c in self._contexts(texts, contexts)])
        return sp.hstack([_weighted(self.text, counts.text), head_part, context_part], format="csr",
                         dtype=np.float32)

    def ngrams(self, text: str) -> dict[int, str]:
        """The n-gram of ``text`` behind each of its word columns (column → n-gram), found by hashing its own
        n-grams again; of two in one column, the longer (the more telling) is named. Do not change the answer:
        it is shared with the next caller asking about the same text."""
        global _last_ngrams
        last = _last_ngrams
        if last is not None and last[0] == text:
            return last[1]
        named: dict[int, str] = {}
        for offset, analyze, columns_of, part in ((0, _ANALYZE, TEXT_COLUMNS, text),
                                                  (TEXT_COLUMNS, _ANALYZE_HEAD, HEAD_COLUMNS, head(text))):
            grams = sorted(set(analyze(part)), key=len)
            if not grams:
                continue
            columns = FeatureHasher(columns_of, input_type="string", alternate_sign=False,
                                    dtype=np.float32).transform([[g] for g in grams]).indices
            for gram, column in zip(grams, columns, strict=True):
                named[offset + int(column)] = gram   # longest last: it wins a shared column
        _last_ngrams = (text, named)
        return named

    @staticmethod
    def _contexts(texts: Sequence[str], contexts: Sequence[Context] | None) -> Sequence[Context]:
        if contexts is None:
            return [None] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        return contexts
