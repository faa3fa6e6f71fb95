"""Everything an agent or a supervisor reads from the suggestions, in one place (Simplified Chinese)."""

from __future__ import annotations

from collections.abc import Sequence

EMPTY_TEXT = "请输入或转写诉求描述后再给出建议"
SHORT_TEXT = "描述较短，建议仅供参考"
NO_CHINESE = "描述中没有中文，建议仅供参考"
NO_MODEL = "暂无可用的学习模型，仅按规则建议"
MODEL_FAILED = "学习模型暂时无法使用，仅按规则建议"
UNKNOWN_PLACE = "未知的{what}“{code}”，已忽略，按全省规则建议"
UNKNOWN_TOPIC = "表单中的业务分类“{code}”不在分类表中，已忽略"
PLACE_NAMES = {"subplatform": "市县分平台", "county": "区县", "town": "乡镇"}

NOT_OWN_TICKET = "只能记录本人受理的工单的建议采纳情况"
UNKNOWN_TICKET = "工单“{number}”不存在"
ALREADY_RECORDED = "该工单的建议采纳情况已记录，本次未重复记录"
DROPPED_TOPIC = "建议的分类“{code}”不在分类表中，未记录"
DROPPED_UNIT = "建议的单位“{code}”不存在或已撤销，未记录"
DROPPED_CHOSEN_UNIT = "拟派单位“{code}”不存在或已撤销，未记录"
DROPPED_SOURCE = "建议来源“{source}”不明，按规则记录"


def topic_rule_why(keywords: Sequence[str]) -> str:
    return f"分类关键词规则：描述中有“{'、'.join(keywords)}”"


def model_why(reasons: Sequence[str]) -> str:
    if not reasons:
        return "学习模型：与历史工单相近"
    return f"学习模型：“{'、'.join(reasons[:3])}”等词指向此项"
