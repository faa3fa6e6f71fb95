"""Realistic Chinese ticket material for the desk benchmarks (bench.desk_tickets, bench.ticket_search).

Places come from the IVR's Hainan gazetteer (hotline/data/gazetteer.yaml: the 20 sub-platforms, their districts
and towns), topics and their keywords from hotline/data/topics.yaml, so titles and contents read like what
agents type: who, where, since when, what, and what the citizen asks for. Everything is drawn from a
seeded ``random.Random``: two runs with the same seed produce the same tickets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import yaml

from hotline.reference import DATA

# Share of tickets per sub-platform (roughly by population; 三沙 almost none).
WEIGHT = {"460100": 27, "460200": 13, "460300": 0.1, "460400": 8, "469001": 1.2, "469002": 5, "469005": 5,
          "469006": 5, "469007": 4, "469021": 3, "469022": 2.5, "469023": 4.5, "469024": 4, "469025": 1.7,
          "469026": 2, "469027": 4.5, "469028": 3.5, "469029": 1.5, "469030": 1.8, "460400499": 1.2}
# Share of tickets per topic (code prefix of hotline/data/topics.yaml).
TOPIC_WEIGHT = {"03-water": 9, "03-power": 6, "03-housing": 14, "04-environment": 10, "03-sanitation": 8,
                "05-transport": 8, "07-security": 6, "08-labour": 9, "02-health": 5, "01-education": 6,
                "09-civil": 4, "10-market": 8, "06-agriculture": 2, "11-tax": 1.5, "04-land": 2.5,
                "13-conduct": 1}
APPEALS = (("complaint", 38), ("consultation", 30), ("help", 20), ("suggestion", 8), ("other", 4))
CHANNELS = (("phone", 78), ("wechat", 8), ("web", 6), ("app", 5), ("sms", 2), ("email", 1))
LINES = (("12345", 85), ("12315", 5), ("12333", 4), ("12319", 3), ("12318", 3))
URGENCY = (("normal", 93), ("urgent", 6), ("very_urgent", 1))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾符邢云吉蔡"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰海燕亮志文琼"
ESTATES = ("金海岸", "椰林湾", "阳光花园", "碧海蓝天", "南国花园", "滨江新城", "鸿州埃德瑞", "万科城", "椰风海韵",
           "海甸花园", "书香门第", "龙湖小区", "幸福家园", "东方明珠", "绿地城", "凤凰水城", "世纪海景", "红树林",
           "白沙门", "嘉和城", "山水龙城", "长信万悦城", "海岸华庭", "新城吾悦", "富力湾")
ROADS = ("人民路", "和平路", "海府路", "国兴大道", "滨海大道", "解放路", "文明路", "迎宾路", "新华路", "建设路",
         "南海大道", "椰海大道", "金盘路", "龙昆路", "大同路", "中山路", "红城湖路", "琼州大道")
SINCE = ("今天上午", "今天下午", "昨天晚上", "本周一起", "上周起", "近三天", "近一个月", "上个月", "今年以来",
         "每天晚上十点以后", "最近两周", "前天")
DEMANDS = ("请相关部门尽快处理", "希望尽快解决", "请尽快派人查看", "要求给个说法", "请核实后依法处理", "请帮忙协调",
           "希望给予答复", "请告知办理流程", "要求退还费用", "请加强监管")
DETAILS = ("多次反映未果", "已向物业反映过，没有处理", "影响周边居民正常生活", "老人和小孩受影响较大",
           "打过电话没人接", "已经持续了很长时间", "周边商户也有同样问题", "来电人情绪比较激动",
           "不清楚应该找哪个部门", "希望有关部门加强管理")
# Words that never occur in generated text: a text search for them scans the whole table.
ABSENT = ("核酸检测点", "共享单车停放", "无人机航拍", "直升机噪音", "光伏板反光")


@dataclass(frozen=True)
class City:
    code: str
    name: str
    short: str
    places: tuple[str, ...]   # districts and towns


@cache
def cities() -> tuple[City, ...]:
    data = yaml.safe_load((DATA / "gazetteer.yaml").read_text(encoding="utf-8"))["cities"]
    out = []
    for c in data:
        places = tuple(c.get("districts") or ()) + tuple(c.get("towns") or ())
        out.append(City(str(c["code"]), c["name"], (c.get("aliases") or [c["name"]])[0], places or (c["name"],)))
    return tuple(out)


@cache
def topics() -> tuple[dict, ...]:
    return tuple(yaml.safe_load((DATA / "topics.yaml").read_text(encoding="utf-8"))["topics"])


def pick(rng: random.Random, weighted) -> str:
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


class Drafts:
    """Draws drafts (dicts shaped like agent_desk.tickets.service.TicketDraft)."""

    def __init__(self, seed: int = 12345):
        self.rng = random.Random(seed)
        self.cities = cities()
        self.city_weights = [WEIGHT.get(c.code, 1) for c in self.cities]
        self.topics = topics()
        self.topic_weights = [TOPIC_WEIGHT.get(t["code"], 1) for t in self.topics]

    def name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def phone(self) -> str:
        r = self.rng
        if r.random() < 0.12:
            return f"0898-{r.randint(31000000, 68999999)}"
        return f"1{r.choice('3578')}{r.randint(0, 9)}{r.randint(0, 99999999):08d}"

    def room(self) -> str:
        r = self.rng
        return f"{r.randint(1, 30)}栋{r.randint(1, 4)}单元{r.randint(1, 33)}{r.randint(1, 4):02d}"

    def draft(self, phone: str | None = None, city: City | None = None, topic: dict | None = None) -> dict:
        r = self.rng
        city = city or r.choices(self.cities, self.city_weights)[0]
        topic = topic or r.choices(self.topics, self.topic_weights)[0]
        place = r.choice(city.places)
        keyword, other = r.sample(topic["keywords"], 2) if len(topic["keywords"]) > 1 else (topic["keywords"][0],) * 2
        spot = r.choice((f"{r.choice(ESTATES)}小区", r.choice(ROADS), f"{r.choice(ROADS)}{r.randint(1, 300)}号"))
        location = f"{city.name}{place}{spot}"
        appeal = pick(r, APPEALS)
        since = r.choice(SINCE)
        title = r.choice((f"{spot}{keyword}问题", f"反映{place}{keyword}", f"{city.short}{spot}{keyword}{other}",
                          f"咨询{keyword}相关事宜", f"{keyword}问题投诉", f"关于{spot}{keyword}的诉求"))[:128]
        room = self.room() if r.random() < 0.6 else ""
        content = (f"来电人反映：{since}，{location}{room}一带{keyword}，{r.choice(DETAILS)}。"
                   f"此前也出现过{other}的情况，{r.choice(DETAILS)}。{r.choice(DEMANDS)}。")
        return {
            "channel": "phone", "source_line": pick(r, LINES), "citizen_name": self.name(),
            "citizen_phone": phone if phone is not None else self.phone(),
            "confidential": r.random() < 0.03, "occurred": since, "location": location,
            "title": title, "content": content, "demand": r.choice(DEMANDS), "appeal_type": appeal,
            "topic": topic["code"], "urgency": pick(r, URGENCY), "subplatform": city.code,
        }
