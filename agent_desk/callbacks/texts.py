"""Everything the callback API says to people (Simplified Chinese), in one place. The agent page's own strings
are in ``web/static/callbacks.js``."""

from __future__ import annotations

from agent_desk.callbacks.rules import Outcome, TaskState

STATE_LABELS = {
    TaskState.OPEN: "待回拨",
    TaskState.DIALING: "回拨中",
    TaskState.CLOSED: "已完成",
    TaskState.GIVEN_UP: "多次未接通",
}

OUTCOME_LABELS = {
    Outcome.REACHED: "已联系上",
    Outcome.RESOLVED: "通话中已解决",
    Outcome.TICKET_CREATED: "已受理工单",
    Outcome.REFUSED: "市民拒绝回访",
    Outcome.INVALID_NUMBER: "号码无效",
    Outcome.CONNECTED: "已接通，待登记结果",
    Outcome.NO_ANSWER: "无人接听",
    Outcome.BUSY: "忙线",
    Outcome.TRUNK_BUSY: "外呼线路忙，稍后重试",
    Outcome.AGENT_NO_ANSWER: "坐席话机未接起，未拨打市民",
    Outcome.CANCELLED: "市民接听前已挂断，未计入次数",
    Outcome.FAILED: "电话系统未能外呼，稍后重试",
    Outcome.CALLED_IN: "市民再次来电已接通",
    Outcome.OPTED_OUT: "市民要求不再回拨",
}

NUMBER_REFUSED = {
    "empty": "来电未显示号码，无法回拨",
    "foreign": "境外号码，不外呼",
    "malformed": "号码格式不正确，无法回拨",
}

UNKNOWN_TASK = "回拨任务“{id}”不存在"
NOT_OPEN = "该任务正由其他坐席回拨或已完成"
QUIET_HOURS = "当前为免打扰时段（{start}–{end}），不外呼"
NOT_YET = "按重拨规则，该任务 {at} 后才能再次回拨"
NO_EXTENSION = "您的账号没有绑定分机，无法回拨"
BUSY_AGENT = "您已有一个回拨正在进行"
NOT_CONNECTED = "只有市民接通后才能登记“{label}”"
OUTCOME_NOT_AGENTS = "不能手工登记“{label}”"
TICKET_NEEDED = "登记“已受理工单”需要填写工单编号"
UNKNOWN_TICKET = "工单“{number}”不存在"
TICKET_REFUSED = "无权回拨该工单的市民：只能回拨本人受理、本人接听或平台可见的工单"
TASK_CLOSED = "该任务已完成，不能再登记结果"
UNKNOWN_CALL = "回拨通话“{id}”不存在"
ROLE_REFUSED = "该角色不能回拨市民"
CALL_GOING = "该任务正在回拨中，请在通话结束后再登记"
CALLBACK_OPTED_OUT = "已登记：市民要求不再回拨，今后该号码的未接来电不再生成回拨任务，也不再智能回访"

# ── 智能回访 campaigns (agent_desk.callbacks.campaign, agent_desk.api.campaigns) ─────────────────────────────
CAMPAIGN_STATE_LABELS = {"running": "进行中", "paused": "已暂停", "finished": "已完成"}
ITEM_STATE_LABELS = {"pending": "待呼叫", "calling": "呼叫中", "unknown": "呼叫结果未知", "done": "已完成"}
ITEM_OUTCOME_LABELS = {
    "satisfied": "满意（已办结）",
    "basically_satisfied": "基本满意（已办结）",
    "unsatisfied": "不满意，转人工回访复核",
    "unsolved": "未解决，转人工回访复核",
    "no_answer": "无人接听或未按键",
    "busy": "忙线",
    "opted_out": "市民不再接受回访",
    "to_agent": "市民转人工服务",
    "invalid_number": "号码无效，无法外呼",
    "not_awaiting": "工单已不在待回访状态",
    "in_other_campaign": "已在其他回访任务中",
    "trunk_busy": "外呼线路忙，稍后重试",
    "failed": "电话系统未能外呼，稍后重试",
    "unknown": "呼叫结果未知，超过等待时间后再呼叫",
}
VERDICT_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意", "unsolved": "未解决"}
REVISIT_ACTOR = "智能回访"
UNKNOWN_CAMPAIGN = "回访任务“{id}”不存在"
CAMPAIGN_FINISHED = "回访任务已完成，不能再暂停或继续"
NO_TICKETS = "没有待回访的工单"
TICKETS_NOT_AWAITING = "以下工单不存在或不在待回访状态：{numbers}"
BAD_WINDOW = "外呼时段格式应为 HH:MM，且开始早于结束"
OVER_TRUNK = "最大并发外呼数不能超过中继外呼上限（{limit} 路）"
OPTED_OUT = "已登记，今后不再对该号码进行智能回访"
