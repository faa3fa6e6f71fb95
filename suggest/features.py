"""Features that suit Chinese without a word segmenter: TF-IDF over character n-grams of the whole text, the
same over its opening (the title), and the place and line the appeal came from.

Chinese has no spaces, so characters and their short runs stand in for words: 欠薪, 工资, 拖欠 are
2-grams, 公积金 a 3-gram. Sub-linear term frequency keeps a long complaint that repeats one word from
drowning the rest; n-grams seen in a single message are dropped (names, addresses, one-off typos).

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
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer

NGRAM_RANGE = (1, 3)
HEAD_CHARS = 64
HEAD_WEIGHT = 0.5
CONTEXT_WEIGHT = 0.5
CONTEXT_KEYS = ("subplatform", "county", "town", "line")
_SPACES = re.compile(r"\s+")

Context = Mapping[str, str] | None


def normalize(text: str) -> str:
    """Full-width letters and digits to half-width (NFKC), lower case, runs of white space to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


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


def vectorizer(min_df: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=NGRAM_RANGE, preprocessor=normalize,
                           sublinear_tf=True, min_df=min_df, dtype=np.float32)


class Features:
    """Text, opening and context as one sparse row per example; the columns are named by :attr:`names`."""

    def __init__(self, head_weight: float = HEAD_WEIGHT, context_weight: float = CONTEXT_WEIGHT,
                 min_df: int = 2) -> None:
        self.head_weight = head_weight
        self.context_weight = context_weight
        self.text = vectorizer(min_df)
        self.head = vectorizer(min_df) if head_weight else None
        self.context = DictVectorizer(dtype=np.float32)
        self.names: np.ndarray = np.array([], dtype=object)
        self.n_words = 0   # the first n_words columns are n-grams (text, then opening); the rest are context

    def fit_transform(self, texts: Sequence[str], contexts: Sequence[Context] | None = None) -> sp.csr_matrix:
        parts = [self.text.fit_transform(texts)]
        names = [self.text.get_feature_names_out()]
        if self.head is not None:
            try:
                parts.append(self.head_weight * self.head.fit_transform([head(t) for t in texts]))
                names.append(self.head.get_feature_names_out())
            except ValueError:   # no opening n-gram seen twice (tiny sets): the opening adds nothing
                self.head = None
        self.context.fit([context_items(c) for c in self._contexts(texts, contexts)])
        parts.append(self.context_weight * self.context.transform(
            [context_items(c) for c in self._contexts(texts, contexts)]))
        names.append(self.context.get_feature_names_out())
        self.n_words = sum(len(n) for n in names[:-1])
        self.names = np.concatenate(names).astype(object)
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def transform(self, texts: Sequence[str], contexts: Sequence[Context] | None = None) -> sp.csr_matrix:
        parts = [self.text.transform(texts)]
        if self.head is not None:
            parts.append(self.head_weight * self.head.transform([head(t) for t in texts]))
        parts.append(self.context_weight * self.context.transform(
            [context_items(c) for c in self._contexts(texts, contexts)]))
        return sp.hstack(parts, format="csr", dtype=np.float32)

    @staticmethod
    def _contexts(texts: Sequence[str], contexts: Sequence[Context] | None) -> Sequence[Context]:
        if contexts is None:
            return [None] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        return contexts
