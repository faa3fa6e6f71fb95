"""并单: precision and recall of the duplicate candidates shown, on real TipDM messages (constructed at run time).

Where the messages come from (read from ../shared at run time, never copied):
* ``--calibrate``: the TipDM **train** split only. Prints, per cosine threshold, the recall of rephrasings and
  the share of near-miss queries that would show a wrong candidate: where ``suggest.similarity.SAME_MATTER``
  was read off.
* default: the **test** split and ``attachment4_messages_with_replies.csv``; the space is fitted on the train
  split (the center's "history"; TipDM's test split shares most titles with train, which matters little here:
  no label is learnt, the space only weighs n-grams; attachment4 shares none).

Place: TipDM masks places as ``A市`` (the city: our sub-platform) and ``A3区`` / ``A7县`` / ``C4市`` (the county); a
message's county is the first such code in its title + text, its sub-platform the letter. Messages naming no
county are left out (an appeal with no place matches nothing, by the rule). No town is known: the rule falls
back to the county (``suggest.duplicates.same_place``).

Time: every appeal of a query is placed inside one 7-day window (``at`` = now − random up to 6 days), so the
window never hides a candidate: **all** messages of the county are open tickets at once (A7县: ~500), a harder
haystack than a real week of one county. A further kind checks the window itself.

Kinds of queries (new appeal → what must be shown):
* ``short``:   title + first sentence of a message → that message (the caller says it briefly);
* ``shuffled``: the message's sentences in another order, no title → that message;
* ``filler``:  the body with its first sentence dropped and a caller's opening/closing added → that message;
* ``other-caller``: a real pair of *different users'* messages in ``attachment4`` about the same matter.
  Labelled without the similarity under test: the same county, titles sharing a run of ≥ 4 Han characters
  that is in at most 3 titles of the whole set (a named estate, road, school: 金地花园小区), and the official
  replies near-identical (cosine ≥ 0.5 of the replies, after the quoted title and the greeting are cut) — the
  unit answered them as one matter. → the other message;
  A second label, for every kind: two messages of one county whose bodies share a verbatim run of 40
  characters held by at most 3 messages are one matter posted again (TipDM holds many re-postings); a shown
  candidate labelled so is right, and such pairs by different users are ``other-caller`` queries too;
* ``near-same-topic``: a test-split message itself, among the other messages of its county *and level-1
  class* (same place, same topic, different matter) → nothing may be shown (each shown is a false merge);
* ``near-other-place``: a rephrasing (short) of a message, its county changed to another county (codes in the
  text replaced) → its original must not be shown (same matter, different place);
* ``outside-window``: a rephrasing (short) whose original was created 8 days earlier → not shown.

Precision = shown candidates that are right / all shown; recall = right candidates shown / all expected;
per kind, then overall. ``limit`` = 5 candidates shown, as the desk shows them.

    .venv/bin/python -m bench.duplicates [--calibrate] [--per-kind 150]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from suggest.duplicates import Appeal, candidates
from suggest.features import join_title
from suggest.similarity import SAME_MATTER, TextSpace, cosine
from tests.support.datasets import TIPDM, TIPDM_TEST, TIPDM_TRAIN

ATTACHMENT4 = TIPDM / "attachment4_messages_with_replies.csv"
COUNTY = re.compile(r"([A-Z]\d{1,2})\s?([区县市])")
SENTENCE = re.compile(r"(?<=[。！？!?；;])")
OPENINGS = ["您好，我想反映一个问题。", "你好，我是这里的居民，打电话是想说一件事。", "喂，您好，我要投诉。",
            "领导您好！", "我想咨询并反映一下情况。"]
CLOSINGS = ["希望有关部门尽快处理，谢谢！", "请相关部门重视，尽快给个答复。", "麻烦你们帮忙协调一下，谢谢。",
            "希望能尽快解决，谢谢！", ""]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Message:
    id: str
    title: str
    body: str
    label: str          # level-1 class ("" in attachment4)
    county: str         # "A7县"
    user: str = ""
    reply: str = ""

    @property
    def text(self) -> str:
        return join_title(self.title, self.body)

    @property
    def subplatform(self) -> str:
        return self.county[0]


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def county_of(text: str) -> str:
    found = COUNTY.search(text)
    return found.group(1) + found.group(2) if found else ""


def read_split(path: Path, prefix: str) -> list[Message]:
    out = []
    with path.open(encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            title, body = _clean(row["title"]), _clean(row["text"])
            out.append(Message(f"{prefix}{i}", title, body, row["label"], county_of(title + body)))
    return out


def read_attachment4() -> list[Message]:
    out = []
    with ATTACHMENT4.open(encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            title, body = _clean(row["留言主题"]), _clean(row["留言详情"])
            out.append(Message(f"a{i}", title, body, "", county_of(title + body), row["留言用户"],
                               _clean(row["答复意见"])))
    return out


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text) if s.strip("。！？!?；; ")]


def variant(m: Message, kind: str, rng: random.Random) -> str | None:
    parts = sentences(m.body)
    if m.title and parts and parts[0].rstrip("。！？!?；;") == m.title.rstrip("。！？!?；;"):
        parts = parts[1:]   # attachment2 bodies repeat the title as their first sentence
    if kind == "short":
        return join_title(m.title, parts[0]) if parts else None
    if kind == "shuffled":
        if len(parts) < 3:
            return None
        shuffled = parts[:]
        while shuffled == parts:
            rng.shuffle(shuffled)
        return "".join(shuffled)
    if kind == "filler":
        if len(parts) < 3:
            return None
        return rng.choice(OPENINGS) + "".join(parts[1:]) + rng.choice(CLOSINGS)
    raise ValueError(kind)


def appeal(id: str, text: str, county: str, at: dt.datetime) -> Appeal:
    return Appeal(id=id, text=text, subplatform=county[0] if county else "", county=county, at=at)


def _reply_core(reply: str, title: str) -> str:
    core = re.sub(r"“[^”]*”", "", reply)
    cut = re.search(r"(收悉|如下|答复如下)[：:，,]", core)
    return core[cut.end():] if cut else core


def other_caller_pairs(messages: list[Message]) -> list[tuple[Message, Message]]:
    """Different users' attachment4 messages about one matter (see the module docstring for the label)."""
    placed = [m for m in messages if m.county and m.reply]
    runs_of = {m.id: {r[i:i + 4] for r in re.findall(r"[\u4e00-\u9fff]{4,}", m.title)
                      for i in range(len(r) - 3)} for m in placed}
    df: dict[str, int] = defaultdict(int)
    for grams in runs_of.values():
        for g in grams:
            df[g] += 1
    replies = TextSpace.fit(_reply_core(m.reply, m.title) for m in placed)
    vectors = replies.transform(_reply_core(m.reply, m.title) for m in placed)
    index = {m.id: i for i, m in enumerate(placed)}
    by_gram: dict[str, list[Message]] = defaultdict(list)
    for m in placed:
        for g in runs_of[m.id]:
            if df[g] <= 3:
                by_gram[g].append(m)
    pairs, seen = [], set()
    for group in by_gram.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                key = tuple(sorted((a.id, b.id)))
                if key in seen or a.county != b.county or a.user == b.user:
                    continue
                seen.add(key)
                if cosine(vectors[index[a.id]], vectors[index[b.id]]).toarray()[0, 0] >= 0.5:
                    pairs.append((a, b))
    return pairs


VERBATIM = 40


def verbatim_pairs(messages: list[Message]) -> list[tuple[Message, Message]]:
    """Pairs of messages of one county whose bodies share a run of ``VERBATIM`` characters that no more than 3
    messages hold (a copy, not a quoted law): the same matter posted again, labelled without the similarity
    under test."""
    holders: dict[str, set[int]] = defaultdict(set)
    for i, m in enumerate(messages):
        for k in range(max(0, len(m.body) - VERBATIM + 1)):
            holders[m.body[k:k + VERBATIM]].add(i)
    found: set[tuple[int, int]] = set()
    for held in holders.values():
        if 2 <= len(held) <= 3:
            ordered = sorted(held)
            found.update((a, b) for x, a in enumerate(ordered) for b in ordered[x + 1:]
                         if messages[a].county == messages[b].county)
    return [(messages[a], messages[b]) for a, b in sorted(found)]


def matter_groups(pairs: list[tuple[Message, Message]]) -> dict[str, set[str]]:
    """The labelled same-matter pairs joined into groups (a matter three users reported is one group)."""
    group: dict[str, set[str]] = {}
    for a, b in pairs:
        joined = group.get(a.id, {a.id}) | group.get(b.id, {b.id})
        for member in joined:
            group[member] = joined
    return group


def place_words(county: str) -> list[str]:
    """The masked place codes of a county (A7县, A市): the place rule matched them already, so they are cut out
    of the texts compared, as the desk cuts its place names."""
    return [county, county[0] + "市"] if county else []


@dataclass
class Tally:
    shown: int = 0
    right: int = 0
    expected: int = 0
    queries: int = 0
    wrong_queries: int = 0
    examples: list[str] = field(default_factory=list)

    def line(self, kind: str) -> str:
        precision = f"{self.right / self.shown:.3f}" if self.shown else "  n/a"
        recall = f"{self.right / self.expected:.3f}" if self.expected else "  n/a"
        return (f"{kind:17s} queries {self.queries:4d}  expected {self.expected:4d}  shown {self.shown:4d}  "
                f"right {self.right:4d}  precision {precision}  recall {recall}  "
                f"queries showing a wrong one {self.wrong_queries}")


def evaluate(space: TextSpace, pool: list[Message], pairs: list[tuple[Message, Message]],
             copies: list[tuple[Message, Message]], per_kind: int, rng: random.Random,
             threshold: float = SAME_MATTER) -> dict[str, Tally]:
    by_county: dict[str, list[Message]] = defaultdict(list)
    for m in pool:
        by_county[m.county].append(m)
    times = {m.id: NOW - dt.timedelta(seconds=rng.uniform(0, 6 * 86400)) for m in pool}

    def haystack(county: str, skip: Iterable[str] = ()) -> list[Appeal]:
        drop = set(skip)
        return [appeal(m.id, m.text, m.county, times[m.id]) for m in by_county[county] if m.id not in drop]

    tallies: dict[str, Tally] = defaultdict(Tally)
    group = matter_groups(pairs + copies)

    def score(kind: str, new: Appeal, open_: list[Appeal], right: set[str]) -> None:
        t = tallies[kind]
        # a labelled same-matter message in the open set is right too (TipDM holds such groups)
        right = {a.id for a in open_ if a.id in right or any(a.id in group.get(r, ()) for r in right)}
        shown = candidates(new, open_, space=space, limit=5, threshold=threshold, ignore=place_words(new.county))
        t.queries += 1
        t.expected += len(right)
        t.shown += len(shown)
        hits = sum(c.id in right for c in shown)
        t.right += hits
        if len(shown) > hits:
            t.wrong_queries += 1
            if len(t.examples) < 3:
                wrong = next(c for c in shown if c.id not in right)
                t.examples.append(f"{new.text[:40]} ↔ {next(m.text for m in pool if m.id == wrong.id)[:40]} "
                                  f"{wrong.score} {wrong.reasons}")

    sample = rng.sample(pool, len(pool))
    for kind in ("short", "shuffled", "filler"):
        done = 0
        for m in sample:
            text = variant(m, kind, rng)
            if text is None:
                continue
            score(kind, appeal("new", text, m.county, NOW), haystack(m.county), {m.id})
            done += 1
            if done == per_kind:
                break
    for a, b in pairs[:per_kind]:
        score("other-caller", appeal("new", a.text, a.county, NOW), haystack(a.county, [a.id]), {b.id})
    for a, b in pairs[:per_kind]:   # and the other way round
        score("other-caller", appeal("new", b.text, b.county, NOW), haystack(b.county, [b.id]), {a.id})
    labelled = [m for m in sample if m.label][:per_kind]
    for m in labelled:
        same = [o for o in by_county[m.county] if o.label == m.label and o.id != m.id]
        if same:
            score("near-same-topic", appeal("new", m.text, m.county, NOW),
                  [appeal(o.id, o.text, o.county, times[o.id]) for o in same], group.get(m.id, set()) - {m.id})
    counties = sorted(by_county)
    for m in sample[:per_kind]:
        text = variant(m, "short", rng)
        other = rng.choice([c for c in counties if c != m.county])
        if text is None:
            continue
        moved = text.replace(m.county, other)
        original = appeal(m.id, m.text, m.county, NOW)
        score("near-other-place", appeal("new", moved, other, NOW), haystack(other) + [original], set())
        old = appeal(m.id, m.text, m.county, NOW - dt.timedelta(days=8))
        score("outside-window", appeal("new", text, m.county, NOW), [old], set())
    return tallies


def calibrate(train: list[Message], rng: random.Random) -> None:
    """Cosine of rephrasings to their original vs the best other message of the same county and class."""
    placed = [m for m in train if m.county]
    space = TextSpace.fit(m.text for m in train)
    rows = space.transform(m.text for m in placed)
    index = {m.id: i for i, m in enumerate(placed)}
    positives: list[float] = []
    for m in placed:
        for kind in ("short", "shuffled", "filler"):
            text = variant(m, kind, rng)
            if text is not None:
                positives.append(float(cosine(space.transform([text]), rows[index[m.id]]).toarray()[0, 0]))
    negatives: list[float] = []   # per query: the highest cosine to another message of its county and class
    for m in placed:
        others = [index[o.id] for o in placed if o.county == m.county and o.label == m.label and o.id != m.id]
        if others:
            negatives.append(float(cosine(rows[index[m.id]], rows[others]).toarray().max()))
    print(f"train: {len(placed)} placed messages; {len(positives)} rephrasings; {len(negatives)} near-miss queries")
    print("threshold | rephrasings found | near-miss queries showing a wrong candidate")
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
        found = sum(p >= t for p in positives) / len(positives)
        wrong = sum(n >= t for n in negatives) / len(negatives)
        print(f"   {t:.2f}   |      {found:.3f}        |   {wrong:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calibrate", action="store_true", help="threshold table on the train split only")
    parser.add_argument("--per-kind", type=int, default=150)
    parser.add_argument("--threshold", type=float, default=SAME_MATTER)
    args = parser.parse_args()
    rng = random.Random(13)
    train = read_split(TIPDM_TRAIN, "r")
    if args.calibrate:
        calibrate(train, rng)
        return
    began = time.perf_counter()
    test = [m for m in read_split(TIPDM_TEST, "t") if m.county]
    attachment4 = [m for m in read_attachment4() if m.county]
    pool = test + attachment4
    space = TextSpace.fit(m.text for m in train)
    pairs = other_caller_pairs(attachment4)
    copies = verbatim_pairs(pool)
    print(f"same-matter labels: {len(pairs)} pairs by title + official reply (attachment4, different users), "
          f"{len(copies)} pairs sharing a {VERBATIM}-character run (re-postings)")
    pairs += [(a, b) for a, b in copies if a.user and b.user and a.user != b.user]
    print(f"pool: {len(test)} test-split + {len(attachment4)} attachment4 messages naming a county "
          f"({len({m.county for m in pool})} counties); {len(pairs)} other-caller pairs; space fitted on "
          f"{len(train)} train messages ({space.size} n-grams); threshold {args.threshold}")
    tallies = evaluate(space, pool, pairs, copies, args.per_kind, rng, args.threshold)
    total = Tally()
    for kind, t in tallies.items():
        print(t.line(kind))
        for example in t.examples:
            print("      wrong:", example)
        total.shown += t.shown
        total.right += t.right
        total.expected += t.expected
        total.queries += t.queries
        total.wrong_queries += t.wrong_queries
    print(total.line("all"))
    print(f"elapsed {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
