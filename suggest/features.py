"""Text features that suit Chinese without a word segmenter: TF-IDF over character 1- to 3-grams.

Chinese has no spaces, so characters and their short runs stand in for words: 欠薪, 工资, 拖欠 are
2-grams, 公积金 a 3-gram. Sub-linear term frequency keeps a long complaint that repeats one word from
drowning the rest; n-grams seen in a single message are dropped (names, addresses, one-off typos).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

NGRAM_RANGE = (1, 3)
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Full-width letters and digits to half-width (NFKC), lower case, runs of white space to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def join_title(title: str, text: str) -> str:
    """A message's title and body as one text (the title names the matter most plainly)."""
    title, text = title.strip(), text.strip()
    return f"{title}。{text}" if title and text else title or text


def vectorizer(min_df: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=NGRAM_RANGE, preprocessor=normalize,
                           sublinear_tf=True, min_df=min_df, dtype=np.float32)
