"""The number plan (号码规划): every line the 12345 center answers or hands calls to, as validated data.

The plan is the single source of truth for the dialplan, the queues, the IVR greetings and the desk's
line tags. New lines and cut-over dates change in ``asterisk_conf/numbers.yaml``, never in code.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotline import yamlsource
from hotline.yamlsource import ConfigError


def _as_text(value: object) -> object:
    # YAML reads an unquoted 12345 as an int; a phone number is text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Number = Annotated[str, BeforeValidator(_as_text), Field(pattern=r"^[0-9]{3,8}$")]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,38}$")]
DivisionCode = Annotated[str, BeforeValidator(_as_text), Field(pattern=r"^[0-9]{6,9}$")]
# Text goes into Set() in the dialplan and into prompts: keep out what the dialplan would parse
# (ASCII , ; ( ) [ ] | $ { } quotes and backslash). Chinese punctuation (，。、) is fine.
ChineseText = Annotated[str, BeforeValidator(yamlsource.config_safe),
                        Field(min_length=1, max_length=300, pattern=r'^[^,;()\[\]|${}\n\r\\"]+$')]


class LineClass(StrEnum):
    """How a number was merged into 12345 (琼府办函〔2021〕337号 and earlier mergers)."""

    MAIN = "main"                                    # 12345 itself
    CANCELLED_DIRECT = "cancelled_direct"            # 取消号码 第一类: cancelled directly
    CANCELLED_AFTER_MERGE = "cancelled_after_merge"  # 取消号码 第二类: cancelled after the seats merged
    DUAL_MERGED = "dual_merged"                      # 双号并行 第一类: number kept, seats merged
    DUAL_EXPERT = "dual_expert"                      # 双号并行 第二类: merged + provincial expert seat
    DUAL_RETAINED = "dual_retained"                  # 双号并行 第三类: own seats kept, telephone transfer
    EXPERT_SEAT = "expert_seat"                      # 增设专家坐席 (12329)
    SUB_CENTER = "sub_center"                        # 分中心: vertically managed, three-way transfer
    ALIAS = "alias"                                  # merged earlier: a plain alias of 12345
    ONE_KEY_TRANSFER = "one_key_transfer"            # 一键转接 (961017)
    EMERGENCY = "emergency"                          # 110/119/120/122 linkage


INBOUND_CLASSES = frozenset(LineClass) - {LineClass.ONE_KEY_TRANSFER, LineClass.EMERGENCY}

# The provincial general queue (省平台综合话务): every failure and every overflow ends here, and it always
# takes the call. ("general" itself cannot name a queue: it is queues.conf's settings section.)
GENERAL_QUEUE = "province"
RESERVED_QUEUE_NAMES = frozenset({"general"})
# 服务水平 by default: answered within 15 s of joining the queue, the figure the centre reports under GB/T 33358
# (issue 12). A queue may set its own; the desk's wallboard and KPIs use DeskSettings.service_level_seconds.
SERVICE_LEVEL_SECONDS = 15


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The plan is rendered into the dialplan and pjsip.conf: no line breaks, ';' or control characters anywhere
    # (free-text ``notes`` aside, which is never rendered).
    _safe = field_validator("*", mode="after")(classmethod(lambda cls, v, info: yamlsource.config_safe(v, info)))


class Queue(Strict):
    name: ChineseText
    strategy: Literal["rrmemory", "leastrecent", "fewestcalls", "random", "linear", "ringall"] = "rrmemory"
    service_level: int = Field(SERVICE_LEVEL_SECONDS, ge=1, le=600,
                               description="answered within this many seconds counts for SL")
    wrapup: int = Field(10, ge=0, le=600, description="seconds of 话后整理 after each call")
    join_when_empty: bool = Field(
        True, description="False: skip this queue when no agent is logged in (used for overflow tiers)"
    )
    overflow_after: int | None = Field(
        None, ge=5, le=3600, description="seconds before a waiting caller overflows to the general queue; None: wait"
    )


class Trunk(Strict):
    """A SIP peer the center dials: a sub-center PBX, retained seats, the emergency linkage gateway."""

    name: ChineseText
    host: str = Field("127.0.0.1", pattern=r"^[A-Za-z0-9.:-]+$")
    port: int = Field(5060, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    ring_timeout: int = Field(30, ge=5, le=300)


class Transition(Strict):
    """The two-month transition (过渡期) of a cancelled number."""

    start: dt.date
    cutover: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Transition:
        if self.cutover <= self.start:
            raise ValueError(f"cutover ({self.cutover}) must come after start ({self.start})")
        return self


class Replacement(Strict):
    """What opens on 12345 when a cancelled number is retired (12349 → minors protection)."""

    name: ChineseText
    queue: Ident


class LineBase(Strict):
    number: Number
    name: ChineseText
    department: ChineseText
    notes: str = ""


class InboundLine(LineBase):
    greeting: ChineseText
    queue: Ident = GENERAL_QUEUE


class MainLine(InboundLine):
    line_class: Literal[LineClass.MAIN] = Field(alias="class")


class CancelledLine(InboundLine):
    line_class: Literal[LineClass.CANCELLED_DIRECT, LineClass.CANCELLED_AFTER_MERGE] = Field(alias="class")
    transition: Transition
    notice: ChineseText = Field(description="played during the transition, before joining 12345")
    retired_notice: ChineseText = Field(description="played after cut-over; offers to connect to 12345")
    replaced_by: Replacement | None = None


class MergedLine(InboundLine):
    line_class: Literal[LineClass.DUAL_MERGED, LineClass.ALIAS] = Field(alias="class")


class ExpertLine(InboundLine):
    line_class: Literal[LineClass.DUAL_EXPERT, LineClass.EXPERT_SEAT] = Field(alias="class")
    expert_queue: Ident


class RetainedLine(InboundLine):
    line_class: Literal[LineClass.DUAL_RETAINED] = Field(alias="class")
    trunk: Ident


class SubCenterLine(InboundLine):
    line_class: Literal[LineClass.SUB_CENTER] = Field(alias="class")
    trunk: Ident


class TransferLine(LineBase):
    line_class: Literal[LineClass.ONE_KEY_TRANSFER, LineClass.EMERGENCY] = Field(alias="class")
    trunk: Ident


Line = Annotated[
    MainLine | CancelledLine | MergedLine | ExpertLine | RetainedLine | SubCenterLine | TransferLine,
    Field(discriminator="line_class"),
]


class SubPlatform(Strict):
    """市县分平台: a city/county sub-platform with its own seats; overflows to the province."""

    code: DivisionCode
    name: ChineseText
    overflow_after: int = Field(30, ge=5, le=600, description="seconds in the local queue before the province takes it")

    @property
    def queue(self) -> str:
        return f"sp-{self.code}"


class NumberPlan(Strict):
    version: Literal[1]
    main: Number
    province: ChineseText
    queues: dict[Ident, Queue]
    trunks: dict[Ident, Trunk] = {}
    subplatforms: list[SubPlatform]
    lines: list[Line]

    @property
    def main_line(self) -> MainLine:
        return next(line for line in self.lines if line.number == self.main)  # type: ignore[return-value]

    def line(self, number: str) -> LineBase | None:
        return next((line for line in self.lines if line.number == number), None)

    def lines_of(self, *classes: LineClass) -> list[LineBase]:
        return [line for line in self.lines if line.line_class in classes]

    @property
    def inbound_lines(self) -> list[InboundLine]:
        return [line for line in self.lines if isinstance(line, InboundLine)]

    def subplatform(self, code: str) -> SubPlatform | None:
        return next((sp for sp in self.subplatforms if sp.code == code), None)

    def all_queues(self) -> dict[str, Queue]:
        """Province queues plus one overflow-tier queue per sub-platform."""
        queues = dict(self.queues)
        for sp in self.subplatforms:
            queues[sp.queue] = Queue(name=f"{sp.name}分平台", join_when_empty=False, overflow_after=sp.overflow_after)
        return queues


def _reference_problems(plan: NumberPlan) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field rules pydantic cannot express per field."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    first_seen: dict[str, int] = {}
    for i, line in enumerate(plan.lines):
        if line.number in first_seen:
            problems.append((("lines", i, "number"),
                             f"{line.number} is already defined at lines[{first_seen[line.number]}]"))
        first_seen.setdefault(line.number, i)
        for attr in ("queue", "expert_queue"):
            ref = getattr(line, attr, None)
            if ref is not None and ref not in plan.queues:
                problems.append((("lines", i, attr), f"queue {ref!r} is not defined under queues:"))
        trunk = getattr(line, "trunk", None)
        if trunk is not None and trunk not in plan.trunks:
            problems.append((("lines", i, "trunk"), f"trunk {trunk!r} is not defined under trunks:"))
        replaced = getattr(line, "replaced_by", None)
        if replaced is not None and replaced.queue not in plan.queues:
            problems.append((("lines", i, "replaced_by", "queue"),
                             f"queue {replaced.queue!r} is not defined under queues:"))
    mains = [i for i, line in enumerate(plan.lines) if line.line_class == LineClass.MAIN]
    if len(mains) != 1:
        problems.append((("lines",), f"exactly one line must have class main, found {len(mains)}"))
    elif plan.lines[mains[0]].number != plan.main:
        problems.append((("main",), f"main is {plan.main} but the class-main line is {plan.lines[mains[0]].number}"))
    if GENERAL_QUEUE not in plan.queues:
        problems.append((("queues",), f"a queue named {GENERAL_QUEUE!r} is required: it is where every failure lands"))
    for name in sorted(RESERVED_QUEUE_NAMES & set(plan.queues)):
        problems.append((("queues", name), f"{name!r} is reserved by Asterisk's queues.conf; choose another name"))
    codes: dict[str, int] = {}
    for i, sp in enumerate(plan.subplatforms):
        if sp.code in codes:
            problems.append((("subplatforms", i, "code"),
                             f"{sp.code} is already used by subplatforms[{codes[sp.code]}]"))
        codes.setdefault(sp.code, i)
    return problems


_TAGS = {c.value for c in LineClass} | {
    name for name in ("MainLine", "CancelledLine", "MergedLine", "ExpertLine", "RetainedLine", "SubCenterLine",
                      "TransferLine")
}


def load_plan(path: Path) -> NumberPlan:
    """Read and validate a number plan. Raises ConfigError listing every problem with file and line."""
    data, source = yamlsource.load(path)
    try:
        plan = NumberPlan.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(yamlsource.validation_problems(exc, source, strip=_TAGS, tag_field="class")) from None
    problems = _reference_problems(plan)
    if problems:
        raise ConfigError([source.problem(loc, msg) for loc, msg in problems])
    return plan
