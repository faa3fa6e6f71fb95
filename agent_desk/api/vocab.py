"""GET /api/vocab: every code the pages show, with its Chinese label, from the one Python definition of each.

The pages keep no label table of their own: ``vocab.js`` loads this once per page and names everything from it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from agent_desk.api.deps import principal
from agent_desk.api.schemas import Reply
from agent_desk.auth.roles import ROLE_LABELS
from agent_desk.auth.sessions import Principal
from agent_desk.supervision import kpi, periods, reports, views, wallboard
from agent_desk.telephony.spy import MODE_LABELS
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.service import CHANNEL_LABELS
from hotline.reference import topic_names
from hotline.vocab import (AppealType, AsrCounter, AsrState, PrefillStatus, Satisfaction, Speaker, TicketState,
                           TurnPhase, TurnStatus)

router = APIRouter()


def vocabulary(pause_reasons: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "ticket_states": TicketState.labels(),
        "actions": dict(lc.ACTION_LABELS),
        "event_fields": dict(lc.EVENT_FIELD_LABELS),
        "appeal_types": AppealType.labels(),
        "topics": topic_names(),   # 业务分类: a ticket's topic is one of these codes (or none)
        "urgency": lc.Urgency.labels(),
        "channels": dict(CHANNEL_LABELS),
        "refusal_reasons": lc.OutOfScope.labels(),
        "exclusions": lc.Exclusion.labels(),
        "satisfaction": Satisfaction.labels(),
        "levels": lc.Level.labels(),
        "rings": {str(level): label for level, label in views.LEVEL_LABELS.items()},
        "roles": {str(role): label for role, label in ROLE_LABELS.items()},
        "agent_states": dict(wallboard.STATE_LABELS),
        "pause_reasons": dict(pause_reasons),
        "spy_modes": {str(mode): label for mode, label in MODE_LABELS.items()},
        "metrics": dict(kpi.METRIC_LABELS),
        "counts": dict(kpi.COUNT_LABELS),
        "group_by": dict(kpi.BY_LABELS),
        "report_kinds": dict(reports.KIND_LABELS),
        "period_kinds": dict(periods.KIND_LABELS),
        "speakers": Speaker.labels(),
        "turn_phases": TurnPhase.labels(),
        "turn_statuses": TurnStatus.labels(),
        "prefill_statuses": PrefillStatus.labels(),
        "asr_states": AsrState.labels(),
        "asr_counters": AsrCounter.labels(),
    }


class Vocabulary(Reply):
    """每类代码 → 中文名称。"""

    ticket_states: dict[str, str]
    actions: dict[str, str]
    event_fields: dict[str, str]
    appeal_types: dict[str, str]
    urgency: dict[str, str]
    channels: dict[str, str]
    refusal_reasons: dict[str, str]
    exclusions: dict[str, str]
    satisfaction: dict[str, str]
    levels: dict[str, str]
    rings: dict[str, str]
    roles: dict[str, str]
    agent_states: dict[str, str]
    pause_reasons: dict[str, str]
    spy_modes: dict[str, str]
    metrics: dict[str, str]
    counts: dict[str, str]
    group_by: dict[str, str]
    report_kinds: dict[str, str]
    period_kinds: dict[str, str]
    asr_states: dict[str, str] = Field(description="语音转写服务状态")
    asr_counters: dict[str, str] = Field(description="语音转写服务的计数（任务、已转写、过载放弃……）")
    topics: dict[str, str] = Field(description="业务分类（派单目录）代码 → 名称")
    speakers: dict[str, str] = Field(description="通话转写的说话人")
    turn_phases: dict[str, str] = Field(description="通话转写语句的阶段：排队时所述、通话中")
    turn_statuses: dict[str, str] = Field(description="通话转写语句的转写结果（未转写时的说明）")
    prefill_statuses: dict[str, str] = Field(description="语音预填的进度")


@router.get("/vocab", summary="词表")
def vocab(request: Request, _who: Principal = Depends(principal)) -> Vocabulary:
    """词表: 各类代码及其中文名称（工单状态、操作、诉求类型、渠道、角色、坐席状态、指标……）。"""
    return Vocabulary.model_validate(vocabulary(request.app.state.settings.pause_reasons))
