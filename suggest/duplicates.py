"""Duplicate appeals (并单): which open tickets a new appeal may be the same matter as. Pure: no I/O.

    from suggest.duplicates import Appeal, Candidate, candidates

    new = Appeal(id="new", text="嘉积镇金海岸小区自来水发黄", subplatform="469002", county="469002",
                 town="469002-嘉积镇", at=now)
    found: list[Candidate] = candidates(new, open_tickets, space=space, limit=5)
    # [Candidate(id=..., score=0.61, reasons=("金海岸小区", "自来水发黄"))], best first

``Appeal(id, text, subplatform, county, town, at)``: ``text`` is what the matter is (title + content), the place
codes are as fine as known ("" where unknown), ``at`` is a datetime (naive ones are taken as UTC).
``Candidate(id, score, reasons)``: ``score`` is the cosine of the two texts in ``suggest.similarity`` (0..1),
``reasons`` the phrases they share that weigh most (what the agent reads to judge: 自来水发黄, 铁锈味). Any
caller: the citizen's identity plays no part (the same matter from different callers is exactly what 并单 is
for).

The rule, in order:

1. **Same place.** Compared at the finest level *both* appeals know: the same town (乡镇/街道) if both have
   one, else the same county (区县) if both have one, else the same sub-platform (市县分平台). An appeal
   with no place at all matches nothing: similar words in two unknown places are not one matter.
2. **Within the window** (``WINDOW``, 7 days, either side of ``new.at``): a matter that keeps coming back
   (a burst water main, a noisy building site) is reported again within days; a week keeps those together
   while a complaint that recurs next month is a new matter (its old ticket is usually closed by then).
3. **Similar content**: cosine ≥ ``threshold`` (``suggest.similarity.SAME_MATTER``, chosen on TipDM train
   data, see there) in ``space``. Pass the desk's own :class:`~suggest.similarity.TextSpace` (fitted on its
   tickets) where there is one: the early-warning detector keeps one fitted on the last week's tickets
   (``agent_desk.supervision.warnings.EarlyWarning.space``, None until its first evaluation); without it a
   space is fitted on the new appeal and the candidates in place and window, which works but weighs words by a
   handful of texts.

``ignore`` (optional): words cut out of the texts before comparing, e.g. the names of the place (嘉积镇), which
the place rule has already matched.

The new appeal itself (same ``id``) is never its own candidate. Bad input never raises: empty or foreign-script
text has no n-grams and is similar to nothing (no candidates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from suggest.similarity import SAME_MATTER, TextSpace, cosine

WINDOW = dt.timedelta(days=7)
REASONS = 3


@dataclass(frozen=True)
class Appeal:
    id: Hashable
    text: str
    subplatform: str = ""
    county: str = ""
    town: str = ""
    at: dt.datetime | None = None   # None: time unknown, outside every window


@dataclass(frozen=True)
class Candidate:
    id: Hashable
    score: float                    # cosine, 0..1, rounded to 4 places
    reasons: tuple[str, ...]        # shared words, heaviest first


def same_place(a: Appeal, b: Appeal) -> bool:
    """The same place at the finest level both know (town, else county, else sub-platform)."""
    for level in ("town", "county", "subplatform"):
        mine, theirs = getattr(a, level), getattr(b, level)
        if mine and theirs:
            return bool(mine == theirs)
    return False


def _without(text: str, words: Sequence[str]) -> str:
    for word in sorted(words, key=len, reverse=True):
        if word:
            text = text.replace(word, " ")
    return text


def _aware(at: dt.datetime) -> dt.datetime:
    """A naive time is taken as UTC (the desk stores UTC), so a caller mixing both never gets a TypeError."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def within(a: Appeal, b: Appeal, window: dt.timedelta = WINDOW) -> bool:
    return a.at is not None and b.at is not None and abs(_aware(a.at) - _aware(b.at)) <= window


def candidates(new: Appeal, open: Sequence[Appeal], *, space: TextSpace | None = None, limit: int = 5,
               window: dt.timedelta = WINDOW, threshold: float = SAME_MATTER,
               ignore: Sequence[str] = ()) -> list[Candidate]:
    """The open appeals that may be the same matter as ``new``, best first, at most ``limit``. ``ignore``:
    words cut out of every text before comparing (the place's own names: already matched by the place rule,
    they would otherwise make every appeal of a town look alike)."""
    if limit <= 0:
        return []
    near = [a for a in open if a.id != new.id and same_place(new, a) and within(new, a, window)]
    if not near:
        return []
    if space is None:
        space = TextSpace.fit([_without(new.text, ignore), *(_without(a.text, ignore) for a in near)])
    new_text, texts = _without(new.text, ignore), [_without(a.text, ignore) for a in near]
    query = space.transform([new_text])
    if not query.nnz:
        return []
    rows = space.transform(texts)
    scores = cosine(query, rows).toarray()[0]
    order = sorted((i for i, s in enumerate(scores) if s >= threshold), key=lambda i: (-scores[i], i))[:limit]
    return [Candidate(near[i].id, round(float(scores[i]), 4),
                      tuple(space.shared_terms(new_text, texts[i], REASONS, (query, rows[i])))) for i in order]
