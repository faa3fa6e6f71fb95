"""The number plan loader: the real plan loads; every kind of mistake names file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hotline.numberplan import GENERAL_QUEUE, LineClass, load_plan
from hotline.paths import PROJECT_ROOT
from hotline.yamlsource import ConfigError

REAL_PLAN = PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"

MINIMAL = """\
version: 1
main: "12345"
province: 海南省
queues:
  province: {name: 省平台综合话务}
  minors: {name: 未成年人保护专席}
trunks:
  emergency: {name: 紧急联动中心网关}
subplatforms:
  - {code: "460100", name: 海口}
lines:
  - number: "12345"
    class: main
    name: 海南12345政务服务便民热线
    department: 管理中心
    greeting: 您好。
  - number: "12349"
    class: cancelled_after_merge
    name: 民政服务热线
    department: 海南省民政厅
    greeting: 您好。
    transition: {start: 2021-09-07, cutover: 2021-11-07}
    notice: 已并入12345。
    retired_notice: 已停用。
    replaced_by: {name: 未成年人保护热线, queue: minors}
  - {number: "110", class: emergency, name: 公安报警, department: 公安厅, trunk: emergency}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "numbers.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_plan(write(tmp_path, text))
    return info.value.problems


def test_the_real_plan_loads_with_every_class_of_the_mission():
    plan = load_plan(REAL_PLAN)
    assert {line.line_class for line in plan.lines} == set(LineClass)
    numbers = {line.number for line in plan.lines}
    for number in ("12345", "12396", "12336", "12312", "12301", "12300", "12349", "12356", "96119", "12322",
                   "12318", "12317", "12367", "12320", "12348", "12333", "12329", "12360", "12366", "12305",
                   "12338", "12315", "12365", "12358", "12331", "961017", "110", "119", "120", "122"):
        assert number in numbers, number
    assert plan.line("12349").replaced_by.queue == "minors-protection"
    assert len(plan.subplatforms) == 20 and plan.subplatform("460400499").name == "洋浦"
    assert GENERAL_QUEUE in plan.queues


def test_minimal_plan_loads(tmp_path):
    plan = load_plan(write(tmp_path, MINIMAL))
    assert plan.main_line.number == "12345"
    assert set(plan.all_queues()) == {"province", "minors", "sp-460100"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("class: main", "class: mian"),
         ":13: lines[0].class: unknown class 'mian'; expected one of: main, cancelled_direct, "),
        (("transition: {start: 2021-09-07, cutover: 2021-11-07}",
          "transition: {start: 2021-09-07, cutover: 2021-08-01}"),
         ":22: lines[1].transition: cutover (2021-08-01) must come after start (2021-09-07)"),
        (('  - number: "12349"', '  - number: "12a49"'), ":17: lines[1].number: String should match pattern"),
        (('  - number: "12349"', '  - number: "12345"'),
         ":17: lines[1].number: 12345 is already defined at lines[0]"),
        (("replaced_by: {name: 未成年人保护热线, queue: minors}",
          "replaced_by: {name: 未成年人保护热线, queue: minor}"),
         ":25: lines[1].replaced_by.queue: queue 'minor' is not defined under queues:"),
        (("trunk: emergency}", "trunk: emergncy}"),
         ":26: lines[2].trunk: trunk 'emergncy' is not defined under trunks:"),
        (("    greeting: 您好。\n  - number: \"12349\"", "    greting: 您好。\n  - number: \"12349\""),
         ":16: lines[0].greting: unknown field (a typo?)"),
        (("department: 海南省民政厅", "department: 海南省民政厅,社会事务处"),
         ":20: lines[1].department: String should match pattern"),
        (("  minors: {name: 未成年人保护专席}", "  general: {name: 未成年人保护专席}"),
         ":6: queues.general: 'general' is reserved by Asterisk's queues.conf"),
        (("  - {code: \"460100\", name: 海口}",
          "  - {code: \"460100\", name: 海口}\n  - {code: \"460100\", name: 又一个}"),
         ":11: subplatforms[1].code: 460100 is already used by subplatforms[0]"),
        (("main: \"12345\"", "main: \"12349\""), ":2: main: main is 12349 but the class-main line is 12345"),
    ],
    ids=["unknown-class", "cutover-before-start", "bad-number", "duplicate-number", "undefined-queue",
         "undefined-trunk", "unknown-field", "dialplan-unsafe-text", "reserved-queue", "duplicate-subplatform",
         "main-mismatch"],
)
def test_each_mistake_names_file_line_and_field(tmp_path, change, expected):
    old, new = change
    assert old in MINIMAL
    problems = problems_of(tmp_path, MINIMAL.replace(old, new, 1))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "numbers.yaml") + ":") for p in problems)


def test_missing_required_field_points_at_the_line_entry(tmp_path):
    text = MINIMAL.replace("    transition: {start: 2021-09-07, cutover: 2021-11-07}\n", "")
    problems = problems_of(tmp_path, text)
    assert any(":17: lines[1].transition: Field required" in p for p in problems), problems


def test_yaml_syntax_error_names_the_line(tmp_path):
    problems = problems_of(tmp_path,
                           MINIMAL.replace("  province: {name: 省平台综合话务}", "  province: {name: 省平台综合话务"))
    assert len(problems) == 1 and ":6: (syntax):" in problems[0], problems


def test_duplicate_yaml_key_is_an_error_not_a_silent_override(tmp_path):
    problems = problems_of(tmp_path, MINIMAL.replace("province: 海南省", "province: 海南省\nprovince: 广东省"))
    assert any(":4: province: duplicate key" in p for p in problems), problems


def test_empty_and_missing_files(tmp_path):
    assert ":1: (top level): the file is empty" in problems_of(tmp_path, "")[0]
    with pytest.raises(ConfigError, match="cannot read"):
        load_plan(tmp_path / "nope.yaml")


def test_every_problem_is_reported_at_once(tmp_path):
    text = MINIMAL.replace("class: main", "class: mian").replace('  - number: "12349"', '  - number: "12a49"')
    assert len(problems_of(tmp_path, text)) >= 2
