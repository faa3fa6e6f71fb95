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
