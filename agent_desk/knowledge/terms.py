"""Index terms for Chinese text: characters and character bigrams, computed here, the same on every backend.

Chinese has no spaces, and neither SQLite's FTS5 tokenizers nor PostgreSQL's text-search parsers segment
it: FTS5's trigram tokenizer cannot match a 2-character query such as 社保, and pg_trgm ignores
characters the server's locale does not call letters. So the desk writes its own terms: each run of
Chinese characters becomes its single characters and its overlapping bigrams (社保卡 → 社 保 卡 社保 保卡),
each run of Latin letters or digits one lower-case word. The database indexes these space-separated
terms as plain words; a query is cut the same way (bigrams for 2+ characters, the character alone for
one), so both sides always agree, whatever the input – quotes, FTS operators and SQL included are just
characters that produce no term.
"""

from __future__ import annotations

import re
import unicodedata

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_RUN = re.compile(rf"[{_HAN}]+|[0-9a-z]+")
MAX_QUERY_TERMS = 32
# How people phrase a question, not what it is about: left out of queries (请问社保卡怎么补办 → 社保卡 补办), so
# they neither demand a match nor dilute the share of terms an article must hold. (Not 怎么办: it would
# eat the 办 of 怎么办理.)
QUESTION_WORDS = ("怎么样", "怎么", "如何", "什么", "哪些", "哪里", "哪儿", "需要", "请问", "我想", "想问",
                  "想要", "咨询", "一下", "可以", "是否", "能否", "能不能", "有没有")


def fold(text: str) -> str:
    """NFKC + lower case, one character for one (full-width ＡＢＣ１２ → abc12), so positions still match
    the original text (the snippet marks matches in the original)."""
    out = []
    for char in text:
        folded = unicodedata.normalize("NFKC", char).lower()
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def runs(text: str) -> list[str]:
    """The Chinese runs and Latin/digit words of ``text``, folded; everything else separates them."""
    return _RUN.findall(fold(text))


def _is_han(run: str) -> bool:
    return not run[0].isascii()


def document_terms(text: str) -> str:
    """What the index stores for ``text``: space-separated single characters, bigrams and words."""
    terms: list[str] = []
    for run in runs(text):
        if _is_han(run):
            terms.extend(run)
            terms.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            terms.append(run)
    return " ".join(terms)


def query_terms(text: str) -> list[str]:
    """What a query looks for: bigrams of each Chinese run (the character itself for a 1-character run)
    and each word, without repeats, at most ``MAX_QUERY_TERMS``; question words are left out unless the
    query is nothing else."""
    stripped = text
    for word in QUESTION_WORDS:
        stripped = stripped.replace(word, " ")
    terms: dict[str, None] = {}
    for run in runs(stripped) or runs(text):
        if _is_han(run) and len(run) > 1:
            terms.update(dict.fromkeys(run[i:i + 2] for i in range(len(run) - 1)))
        else:
            terms[run] = None
    return list(terms)[:MAX_QUERY_TERMS]
