"""Hand-made citizen messages to train small suggestion models in tests (never real data): three matters, each
said several ways, in ten places of the province."""

from __future__ import annotations

import pickle
from collections.abc import Mapping

import suggest

PLACES = ["海口市龙华区", "三亚市吉阳区", "琼海市嘉积镇", "儋州市那大镇", "文昌市文城镇", "万宁市万城镇",
          "五指山市", "东方市八所镇", "陵水县椰林镇", "澄迈县金江镇"]
MATTERS = {
    "labour": ["公司拖欠工资三个月了，老板不发工资", "单位不给缴纳社保，养老保险断缴",
               "工地包工头欠薪不还，农民工讨薪"],
    "water": ["小区停水两天了，自来水一直没来", "自来水发黄浑浊，水质有问题", "水管爆裂，供水中断，水压很低"],
    "school": ["孩子入学报名没有学位，学校不收", "幼儿园乱收费，学费太贵", "培训机构补课收费后老师跑了"],
}
TOPICS = {"labour": "08-labour", "water": "03-water", "school": "01-education"}


def examples(labels: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Texts and their labels, ``labels`` naming the label of each matter ("labour", "water", "school")."""
    texts, out = [], []
    for matter, sayings in MATTERS.items():
        for i, place in enumerate(PLACES):
            for saying in sayings[i % 3: i % 3 + 2]:
                texts.append(f"我是{place}的居民，{saying}，请有关部门尽快处理。")
                out.append(labels[matter])
    return texts, out


def trained(labels: Mapping[str, str]) -> suggest.Model:
    return suggest.train(*examples(labels))


class Trained:
    """A model source that serves models trained in the test (``service.ModelSource``)."""

    def __init__(self, **models: suggest.Model) -> None:
        self.models = models

    def get(self, kind: str):
        from agent_desk.suggestions.service import LoadedModel

        model = self.models.get(kind)
        return None if model is None else LoadedModel(model, f"test-{kind}")


def rewrite_header(path, **changes) -> None:
    """Change fields of a saved model file's header in place (tests of the checks made before unpickling)."""
    with path.open("rb") as f:
        head = pickle.load(f)
        rest = f.read()
    head.update(changes)
    with path.open("wb") as f:
        pickle.dump(head, f)
        f.write(rest)
