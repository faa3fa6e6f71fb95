"""Early warning (未诉先办): clustering of hand-made ticket records, alert wording and stable ids."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_desk.supervision.org import Node, OrgIndex
from agent_desk.supervision.warnings import DEFAULT_RULES, Record, WarningRule, detect, rules_from, site_rules
from agent_desk.supervision.warnings.store import _keep_ids

UTC = dt.UTC
NOW = dt.datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
TOWN = WarningRule(name="town-24h", label="乡镇聚集", area="town", window_hours=24, min_count=5)
ORG = OrgIndex([
    Node(1, "460000", "海南省12345热线平台", "province", None),
    Node(2, "469002", "琼海市12345热线分平台", "subplatform", 1),
    Node(3, "469002-嘉积镇", "嘉积镇", "town", 2),
    Node(4, "469002-博鳌镇", "博鳌镇", "town", 2),
    Node(5, "469002-嘉积镇示例社区", "嘉积镇示例社区", "village", 3),
    Node(6, "469002-water", "琼海市水务局", "member_unit", 2),
])
YELLOW = [  # the same matter, worded six ways; no topic: only the words link them
    ("自来水发黄", "金海岸小区自来水发黄，有铁锈味。"),
    ("水质发黄", "家里水龙头出来的自来水发黄浑浊，不敢饮用。"),
    ("水浑浊发黄", "今天早上开始自来水浑浊发黄。"),
    ("【供水排水】自来水发黄有沉淀", "烧开后自来水发黄有沉淀。"),
    ("小区自来水发黄", "自来水发黄已经两天了，请水务部门核查。"),
    ("自来水颜色发黄", "嘉积镇银海路自来水颜色发黄像铁锈水。"),
]
UNRELATED = [("道路坑洼", "嘉积镇银海路路面坑洼，雨天积水，车辆难行。", "05-transport"),
             ("工资拖欠", "某工地拖欠工资三个月，劳动监察不管。", "08-labour"),
             ("噪音扰民", "夜间施工噪音扰民到凌晨。", "04-environment")]


def yellow(count: int, unit_of=lambda i: 3, hours_apart: float = 2.0, first: int = 1) -> list[Record]:
    return [Record(number=f"20260520{first + i:06d}", unit_id=unit_of(i),
                   created_at=NOW - dt.timedelta(hours=hours_apart * (count - 1 - i)),
                   title=YELLOW[i % len(YELLOW)][0], content=YELLOW[i % len(YELLOW)][1])
            for i in range(count)]


def unrelated(unit: int = 3) -> list[Record]:
    return [Record(number=f"20260520{900 + i:06d}", unit_id=unit, created_at=NOW - dt.timedelta(hours=1 + i),
                   title=title, content=content, topic=topic) for i, (title, content, topic) in enumerate(UNRELATED)]


def test_six_yellow_water_appeals_in_one_town_within_a_day_raise_one_alert_saying_why():
    records = yellow(6) + unrelated()
    records[-1] = Record("20260520000950", 5, NOW - dt.timedelta(hours=3), "噪音扰民", "夜间施工噪音扰民到凌晨。",
                         "04-environment")  # a village of the town counts for the town
    alerts = detect(records, ORG, TOWN, NOW)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["tickets"] == [r.number for r in yellow(6)]  # the unrelated ones did not join
    assert alert["count"] == 6 and alert["area"] == "469002-嘉积镇" and alert["area_name"] == "嘉积镇"
    assert alert["keywords"] == ["自来水", "发黄"]  # the place name and the desk's 【topic】 prefix are not words
    assert alert["title"] == "嘉积镇 24小时内 6 件“自来水、发黄”相关诉求"
    assert alert["window_hours"] == 24 and alert["rule"] == "town-24h"
    assert alert["first_at"] == "2026-05-20T10:00:00+08:00" and alert["last_at"] == "2026-05-20T20:00:00+08:00"


def test_below_the_minimum_count_no_alert():
    assert detect(yellow(4) + unrelated(), ORG, TOWN, NOW) == []


def test_spread_over_two_towns_no_alert():
    records = yellow(6, unit_of=lambda i: 3 if i % 2 else 4)
    assert detect(records, ORG, TOWN, NOW) == []


def test_spread_over_three_days_no_alert_with_a_day_window_but_one_with_a_week():
    records = yellow(6, hours_apart=14.0)  # 70 hours from the first to the last
    assert detect(records, ORG, TOWN, NOW) == []
    week = TOWN.model_copy(update={"name": "town-7d", "window_hours": 168})
    [alert] = detect(records, ORG, week, NOW)
    assert alert["count"] == 6 and alert["title"].startswith("嘉积镇 7天内 6 件")


def test_the_same_topic_links_appeals_whatever_their_words_unless_the_rule_says_no():
    records = [Record(f"20260520{i:06d}", 3, NOW - dt.timedelta(hours=i), title, content, topic="03-water")
               for i, (title, content) in enumerate([("停水", "早上到现在一直停水。"), ("水压低", "楼上水压太低。"),
                                                     ("爆管", "路口水管爆了。"), ("水费", "水费算错。"),
                                                     ("下水道堵", "下水道堵塞返臭。")])]
    [alert] = detect(records, ORG, TOWN.model_copy(update={"link_topic": True}), NOW)
    assert alert["topic"] == "03-water" and alert["topic_name"] == "供水排水" and alert["keywords"] == []
    assert alert["title"] == "嘉积镇 24小时内 5 件“供水排水”相关诉求"
    assert detect(records, ORG, TOWN, NOW) == []  # by default a level-1 topic alone links nothing


def test_a_county_rule_groups_the_towns_of_a_county_level_city():
    county = WarningRule(name="county-24h", label="区县聚集", area="county", window_hours=24, min_count=6)
    [alert] = detect(yellow(6, unit_of=lambda i: 3 if i % 2 else 4), ORG, county, NOW)
    assert alert["area"] == "469002" and alert["area_name"] == "琼海市" and alert["count"] == 6


def test_records_without_an_area_or_outside_the_window_are_left_out():
    assert len(detect(yellow(5), ORG, TOWN, NOW)) == 1
    records = yellow(5)
    records[0] = Record(records[0].number, None, records[0].created_at, records[0].title, records[0].content)
    assert detect(records, ORG, TOWN, NOW) == []
    assert detect(yellow(5), ORG, TOWN, NOW - dt.timedelta(hours=1)) == []  # the newest not yet created


def test_the_id_is_stable_across_re_evaluation_and_kept_while_the_cluster_grows_or_slides():
    first = detect(yellow(6), ORG, TOWN, NOW)
    again = detect(list(reversed(yellow(6))) + unrelated(), ORG, TOWN, NOW + dt.timedelta(minutes=5))
    assert first[0]["id"] == again[0]["id"]
    # later the oldest ticket left the window and two more came: a new oldest ticket, the same alert
    later = NOW + dt.timedelta(hours=15)
    grown = yellow(6) + [Record(f"20260520{i:06d}", 3, later - dt.timedelta(minutes=i), "自来水发黄", "自来水又发黄了")
                         for i in (7, 8)]
    [moved] = detect(grown, ORG, TOWN, later)
    assert moved["count"] == 7 and moved["tickets"][0] != first[0]["tickets"][0]
    assert moved["id"] != first[0]["id"]
    _keep_ids([moved], {first[0]["id"]: first[0]})
    assert moved["id"] == first[0]["id"]
    # another rule or another area never takes it over
    other = detect(yellow(6, unit_of=lambda i: 4), ORG, TOWN, NOW)
    _keep_ids(other, {first[0]["id"]: first[0]})
    assert other[0]["id"] != first[0]["id"]


def test_rules_are_data_validated_with_the_defaults_as_fallback():
    assert rules_from(None) == DEFAULT_RULES
    [rule] = rules_from([{"name": "flood-30d", "label": "积水点", "window_hours": 720, "min_count": 3}])
    assert rule.window_label == "30天" and rule.area == "town" and rule.similarity == 0.15 and not rule.link_topic
    with pytest.raises(ValueError):
        rules_from([{"name": "x", "label": "甲"}, {"name": "x", "label": "乙"}])
    with pytest.raises(ValueError):
        rules_from([{"name": "bad", "label": "坏", "min_count": 1}])
    with pytest.raises(ValueError):
        rules_from([{"name": "bad", "label": "坏", "windows": 3}])


def test_a_site_file_overrides_the_rules_and_its_mistakes_are_named():
    from hotline.site import SiteConfig
    from hotline.yamlsource import ConfigError

    site = SiteConfig.model_validate({"warning_rules": [{"name": "flood-30d", "label": "积水点", "window_hours": 720,
                                                        "min_count": 3, "link_topic": True}]})
    assert [r.name for r in site_rules(site.warning_rules)] == ["flood-30d"]
    assert site_rules(SiteConfig().warning_rules) is None  # the desk's defaults
    with pytest.raises(ConfigError) as caught:
        site_rules(SiteConfig.model_validate({"warning_rules": [{"name": "ok", "label": "好"},
                                                                {"name": "bad", "label": "坏", "min_count": 0}]})
                   .warning_rules)
    assert caught.value.problems == ["site: warning_rules[1].min_count: Input should be greater than or equal to 2"]
