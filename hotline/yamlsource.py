"""Load YAML while remembering where every value came from, so validation errors can name file and line.

pydantic reports an error by its location (``("lines", 3, "transition", "cutover")``); the
``SourceMap`` turns that location into the line of the YAML file that holds it (or the line of
the closest enclosing mapping when the field is missing altogether).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Set as AbstractSet
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError, ValidationInfo


class ConfigError(Exception):
    """A configuration file is malformed. ``problems`` lists ``file:line: field: message`` strings."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


Loc = tuple[str | int, ...]


@dataclass
class SourceMap:
    path: Path
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Iterable[str | int]) -> int:
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Iterable[str | int], message: str) -> str:
        loc = tuple(loc)
        return f"{self.path}:{self.line_of(loc)}: {format_loc(loc) or '(top level)'}: {message}"


def format_loc(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load(path: Path) -> tuple[Any, SourceMap]:
    """Parse ``path``; return the plain data and its source map. Raises ConfigError on bad YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}:1: (file): cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}:1: (file): not UTF-8 text: {exc.reason}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{path}:{line}: (syntax): {exc.problem or exc}"]) from exc
    source = SourceMap(path)
    if node is None:
        raise ConfigError([f"{path}:1: (top level): the file is empty"])
    problems: list[str] = []
    _walk(node, (), source, problems)
    if problems:
        raise ConfigError(problems)
    data = yaml.safe_load(text)
    return data, source


def _walk(node: yaml.Node, loc: Loc, source: SourceMap, problems: list[str]) -> None:
    source.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    f"{source.path}:{key_node.start_mark.line + 1}: {format_loc(loc + (key,))}: "
                    "duplicate key (the second one would silently win)"
                )
            seen.add(key)
            source.lines[loc + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, loc + (key,), source, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            source.lines[loc + (index,)] = item.start_mark.line + 1
            _walk(item, loc + (index,), source, problems)


def validation_problems(exc: ValidationError, source: SourceMap, strip: AbstractSet[str] = frozenset(),
                        tag_field: str = "") -> list[str]:
    """Turn a pydantic error into ``file:line: field: message`` strings.

    ``strip`` names location parts pydantic adds that are not in the file (discriminator tags);
    ``tag_field`` is the file's name for the discriminator field, so a bad tag points at that field.
    """
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(part for part in err["loc"] if part not in strip)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field (a typo?)"
        elif err["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found") and tag_field:
            loc += (tag_field,)
            tag = err.get("ctx", {}).get("tag")
            message = (f"unknown {tag_field} {tag!r}" if tag is not None else f"{tag_field} is required")
            expected = err.get("ctx", {}).get("expected_tags")
            if expected:
                # pydantic lists enum members as "<LineClass.MAIN: 'main'>": keep the values the file uses.
                values = re.findall(r": '([^']+)'>", expected) or [expected]
                message += "; expected one of: " + ", ".join(values)
        problems.append(source.problem(loc, message))
    return problems


# What the Asterisk configuration would parse in a value rendered into it: a line break ends the line (and the
# next line can be any directive), ';' starts a comment, other control characters have no business in a name.
_UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f;]")
FREE_TEXT_FIELDS = frozenset({"notes"})   # never rendered: free text may have line breaks


def config_safe(value: Any, info: ValidationInfo | None = None, model: type[BaseModel] | None = None) -> Any:
    """Pydantic validator (``field_validator("*")``): refuse line breaks, ';' and control characters in every
    string of the value (lists and mappings included), keys too. A field holding models is left to them (their
    own validator names the exact field)."""
    if info is not None and info.field_name in FREE_TEXT_FIELDS:
        return value
    if model is not None and info is not None and info.field_name is not None \
            and _holds_model(model.model_fields[info.field_name].annotation):
        return value
    _check_text(value)
    return value


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(arg) for arg in get_args(annotation))


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        bad = _UNSAFE_TEXT.search(value)
        if bad:
            raise ValueError(f"must not contain {_describe(bad.group())}: it is written into the Asterisk "
                             "configuration")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_text(item)


def _describe(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char == ";":
        return "';'"
    return f"a control character (U+{ord(char):04X})"
