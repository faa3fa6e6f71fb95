"""Early-warning rules: data (``DeskSettings.warning_rules``, the site file's ``warning_rules:``), checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WarningRule(BaseModel):
    """One early-warning rule. ``area``: ``town`` groups by the town (乡镇/街道) the location unit lies in,
    ``county`` by its district or county-level city (区县)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    label: str = Field(..., min_length=1, max_length=32, description="中文, shown with the alert")
    area: Literal["town", "county"] = "town"
    window_hours: int = Field(24, ge=1, le=24 * 90)
    min_count: int = Field(5, ge=2, le=10_000)
    similarity: float = Field(0.15, gt=0, le=1, description="cosine of title + content in suggest.similarity")
    link_topic: bool = Field(False, description="the same topic makes two appeals similar (fine-grained topics)")
    link_matter: bool = Field(True, description="the same matter key (citizen, topic, place) does")

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.window_hours)

    @property
    def window_label(self) -> str:
        hours = self.window_hours
        return f"{hours // 24}天" if hours >= 48 and hours % 24 == 0 else f"{hours}小时"


# Defaults link appeals by their words and matter, not by topic alone: the desk's topics are level-1 classes
# (供水排水, 住房物业), and a busy town has five 住房物业 tickets on an ordinary day (bench/warnings.py). A site
# with fine-grained topics (自来水水质) can set link_topic. Similarity is the cosine of suggest.similarity (the
# representation 并单 and knowledge use; 并单 shows a pair as the same matter at 0.3). A cluster links looser
# than a pair (single link: each appeal need only be near one other): 0.15, 0.2 over a week. With a desk's
# first few tickets (under 200, no document frequencies yet) six wordings of "自来水发黄" are 0.19-0.75 apart,
# unrelated ones ≤ 0.09; at province volume (bench/warnings.py, 56k tickets) the injected cluster is found.
DEFAULT_RULES: tuple[WarningRule, ...] = (
    WarningRule(name="town-24h", label="乡镇聚集", area="town", window_hours=24, min_count=5),
    WarningRule(name="county-24h", label="区县聚集", area="county", window_hours=24, min_count=10),
    # A point that keeps coming back (积水点, 停水片区).
    WarningRule(name="town-7d", label="反复诉求", area="town", window_hours=168, min_count=8, similarity=0.2),
)


def rules_from(data: Iterable[dict[str, Any] | WarningRule] | None) -> tuple[WarningRule, ...]:
    """Rules from settings or a site file (dicts are validated); None: the defaults."""
    if data is None:
        return DEFAULT_RULES
    rules = tuple(r if isinstance(r, WarningRule) else WarningRule.model_validate(r) for r in data)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"warning rule names repeat: {names}")
    return rules


def site_rules(data: list[dict[str, Any]] | None) -> tuple[WarningRule, ...] | None:
    """The site file's ``warning_rules:`` checked (ConfigError naming each problem); None: the defaults."""
    if data is None:
        return None
    from pydantic import ValidationError

    from hotline.yamlsource import ConfigError
    problems = []
    for i, item in enumerate(data):
        try:
            WarningRule.model_validate(item)
        except ValidationError as exc:
            problems += [f"site: warning_rules[{i}].{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    if not problems:
        try:
            return rules_from(data)
        except ValueError as exc:
            problems.append(f"site: warning_rules: {exc}")
    raise ConfigError(problems)
