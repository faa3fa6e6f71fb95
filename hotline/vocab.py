"""The shared vocabulary: codes the IVR, the desk and the contracts between them all use, each with the Chinese
label people read, defined here once. Desk-only terms (ticket actions, KPIs, agent states) live with the desk
code that defines them; ``agent_desk.api.vocab`` serves all of them to the pages (no label table in JS).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class Term(StrEnum):
    """A code with its label: ``Member = "code", "标签"``; ``Member.label`` is the label, the value is the code."""

    label: str

    def __new__(cls, code: str, label: str = "") -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}


class TicketState(Term):
    """工单状态: the states of the ticket lifecycle (agent_desk.tickets.lifecycle)."""

    ACCEPTED = "accepted", "已受理"                      # waiting for the agent's decision
    REFUSED = "refused", "不予受理"
    DISPATCHED = "dispatched", "已派单"                  # waiting for the host unit to sign
    SIGNED = "signed", "已签收"                          # the host unit handles it
    RETURN_REQUESTED = "return_requested", "退单审核中"    # 退单申请, the platform reviews it
    RETURNED = "returned", "已退回"                      # 退单通过, the platform re-dispatches
    CONSULTATION = "consultation", "会商中"
    REPLIED = "replied", "已答复"                        # the platform reviews the reply
    AWAITING_CALLBACK = "awaiting_callback", "待回访"
    UNSATISFIED = "unsatisfied", "回访不满意"
    APPEALED = "appealed", "申诉中"
    CLOSED = "closed", "已办结"
    MERGED = "merged", "已并单"                          # 并单: handled as another ticket (its host), linked to it


class AppealType(Term):
    """诉求类型."""

    CONSULTATION = "consultation", "咨询"
    HELP = "help", "求助"
    COMPLAINT = "complaint", "投诉举报"
    SUGGESTION = "suggestion", "意见建议"
    OTHER = "other", "其他"          # e.g. 表扬


class Satisfaction(Term):
    """满意度: the callback's verdict (回访) and the caller's survey key."""

    SATISFIED = "satisfied", "满意"
    BASICALLY_SATISFIED = "basically_satisfied", "基本满意"
    UNSATISFIED = "unsatisfied", "不满意"


class Speaker(Term):
    """Who spoke a turn of the live transcript (hotline.contracts.transcript)."""

    CITIZEN = "citizen", "市民"
    AGENT = "agent", "坐席"


class TurnPhase(Term):
    """When a turn was said: in the queue (it describes the matter) or talking to the agent."""

    WAITING = "waiting", "排队时所述"
    CONVERSATION = "conversation", "通话中"


class TurnStatus(Term):
    """What became of a turn's audio: transcribed, or why not (the audio stays in the call's recording)."""

    OK = "ok", "已转写"
    SHED = "shed", "转写繁忙，此段未转写"
    LOST = "lost", "转写中断，此段未转写（录音已保存）"
    NO_ENGINE = "no_engine", "本中心未配置语音识别，此段未转写"


class PrefillStatus(Term):
    """How far the prefill (工单预填) of the caller's description has come (hotline.contracts.prefill)."""

    LISTENING = "listening", "正在收听"
    TRANSCRIBING = "transcribing", "正在转写"
    FINAL = "final", "转写完成"
    FAILED = "failed", "转写失败"
    NO_SPEECH = "no_speech", "未检测到语音"


class AsrState(Term):
    """转写服务状态: the speech-recognition pool as the wallboard (and the agent's page) say it
    (agent_desk.supervision.asr_pool decides which applies)."""

    ABSENT = "absent", "未接入"          # the centre runs without the pool
    OFFLINE = "offline", "转写中断"      # no worker alive
    BUSY = "busy", "转写繁忙"            # overloaded: phrases are shed instead of transcribed
    NORMAL = "normal", "转写正常"


class AsrCounter(Term):
    """The ASR pool's counters (hotline.contracts.asr STATS_KEY): what became of the phrases sent to it."""

    JOBS = "jobs", "转写任务"
    OK = "ok", "已转写"
    SHED = "shed", "过载放弃"      # waited longer than its class allows: answered without transcription
    LOST = "lost", "丢失"          # delivered to workers that died, too many times
    FAILED = "failed", "出错"
