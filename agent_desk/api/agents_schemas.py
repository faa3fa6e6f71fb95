"""What the agent endpoints take and answer (``agent_desk.api.agents``): pause reasons, an agent's state on the
phone system, log in / out, pause, skills, and the supervisors' listen / whisper / barge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from agent_desk.api.schemas import Body, Reply
from agent_desk.telephony.agents import MAX_PENALTY

EXTENSION = r"^[0-9]{3,8}$"
SkillsSource = Literal["stored", "site"]   # agent_desk.telephony.skills.STORED, SITE
SOURCE = "技能来源：stored 在工作台设置的技能；site 站点配置的默认队列（未设置技能时）"
NODES_DOWN = "多节点集群：暂时无法连接的节点（恢复后自动按其他节点补齐签入、置忙与技能）；单节点中心无此项"
NODES_DISAGREE = "多节点集群：签入、置忙或优先级与其他节点不一致的节点（正在补齐或拒绝了操作）；单节点中心无此项"
NODES_DISAGREE_ROW = "多节点集群：签入、置忙或优先级与其他节点不一致的节点；单节点中心或各节点一致时为空"


# ── requests ─────────────────────────────────────────────────────────────────
class PauseBody(Body):
    reason: str | None = Field(None, max_length=32,
                               description="置忙原因代码（见 GET /pause-reasons）；不填则用站点的默认原因（小休）")


class AgentLoginBody(Body):
    queues: list[str] | None = Field(None, max_length=50,
                                     description="只签入这些队列（须是该坐席技能中的队列名）；不填则签入其全部技能队列")


class SkillItem(Body):
    queue: str = Field(..., description="队列名（号码规划中的队列）")
    penalty: int = Field(0, strict=True,
                         description=f"优先级：0 至 {MAX_PENALTY} 的整数，越小越先分配来电；默认 0")


class SkillsBody(Body):
    queues: list[SkillItem] = Field(..., max_length=50, description="坐席服务的队列及优先级，至少一个，不得重复")


class SpyBody(Body):
    agent: str = Field(..., pattern=EXTENSION, description="被监听坐席的分机号")
    mode: Literal["listen", "whisper", "barge"] = Field(
        "listen",
        description="listen 监听（只听）；whisper 耳语（只有坐席听得到班长）；barge 强插（坐席和市民都听得到）")


# ── replies ──────────────────────────────────────────────────────────────────
class PauseReason(Reply):
    code: str = Field(description="置忙原因代码")
    label: str = Field(description="中文名称，例如“小休”“就餐”")
    default: bool = Field(description="是否为默认原因（置忙时不指定原因即用它）")


class QueueMembership(Reply):
    """坐席在一个队列中的签入状态（电话系统实时报告）。"""

    queue: str = Field(description="队列名")
    name: str = Field(description="队列中文名称")
    paused: bool = Field(description="在该队列置忙")
    reason: str = Field(description="置忙原因代码；未置忙时为空字符串")
    reason_label: str = Field(description="置忙原因中文名称；未置忙时为空字符串")
    in_call: bool = Field(description="正在通话")


class MemberQueue(QueueMembership):
    penalty: int = Field(description="在该队列的优先级（越小越先分配来电）")


class AgentState(Reply):
    """坐席在电话系统中的状态：签入了哪些队列、是否置忙、话机是否在线。"""

    extension: str = Field(description="分机号")
    queues: list[QueueMembership] = Field(description="已签入的队列；空表示未签入")
    registered: bool = Field(description="话机（网页电话或硬话机）已在电话系统注册")
    # A cluster only: a single node's reply is what it was before clusters (the keys are left out, not null).
    nodes_down: list[str] | None = Field(None, description=NODES_DOWN)
    nodes_disagree: list[str] | None = Field(None, description=NODES_DISAGREE)
    registration_unconfirmed: str | None = Field(
        None, description="集群代理未应答、无法确认话机是否注册时的说明（此时不阻止签入）；能确认时不出现")

    @model_serializer(mode="wrap")
    def _without_cluster_fields_on_one_node(self, handler: SerializerFunctionWrapHandler):   # no return type: the
        # model's own schema stays the API document's (with one, the document says only "an object")
        data: dict[str, Any] = handler(self)
        for key in ("nodes_down", "nodes_disagree", "registration_unconfirmed"):
            if data.get(key, ()) is None:
                del data[key]
        return data


class QueueSkill(Reply):
    queue: str = Field(description="队列名")
    name: str = Field(description="队列中文名称")
    penalty: int = Field(description="优先级（越小越先分配来电）")


class AgentDetail(AgentState):
    skills: list[QueueSkill] = Field(description="技能：签入时加入的队列及优先级")
    skills_source: SkillsSource = Field(description=SOURCE)


class AgentSkills(Reply):
    extension: str = Field(description="分机号")
    skills: list[QueueSkill] = Field(description="技能：下次签入时加入的队列及优先级")
    skills_source: SkillsSource = Field(description=SOURCE)


class AgentRow(Reply):
    """坐席管理列表中的一名坐席。"""

    user: str = Field(description="用户名")
    display_name: str = Field(description="姓名")
    extension: str = Field(description="分机号")
    registered: bool = Field(description="话机已在电话系统注册")
    logged_in: bool = Field(description="已签入至少一个队列")
    paused: bool = Field(description="已在全部签入的队列置忙")
    in_call: bool = Field(description="正在通话")
    queues: list[MemberQueue] = Field(description="已签入的队列")
    skills: list[QueueSkill] = Field(description="技能：签入时加入的队列及优先级")
    skills_source: SkillsSource = Field(description=SOURCE)
    nodes_disagree: list[str] = Field(default_factory=list, description=NODES_DISAGREE_ROW)


class QueueOption(Reply):
    queue: str = Field(description="队列名")
    name: str = Field(description="队列中文名称")


class AgentList(Reply):
    agents: list[AgentRow] = Field(description="启用且绑定了分机的话务员，按分机号排序")
    queues: list[QueueOption] = Field(description="号码规划中的全部队列（设置技能时可选）")
    supervisor_extension: str | None = Field(description="当前班长自己的分机号（监听时振铃的话机）；未绑定时为 null")


class SpyReply(Reply):
    """监听（耳语、强插）已发起：班长的话机正在振铃，接听后开始。"""

    mode: Literal["listen", "whisper", "barge"] = Field(description="listen 监听、whisper 耳语、barge 强插")
    supervisor: str = Field(description="班长的分机号（振铃的话机）")
    agent: str = Field(description="被监听坐席的分机号")
    agent_channel: str = Field(description="坐席的通话通道，例如 PJSIP/8001-0000002b")
    call_id: str = Field(description="通话编号；不是市民来电（例如内部通话）时为空字符串")
    spy_channel_id: str = Field(description="班长一侧通道的编号")
    options: str = Field(
        description="ChanSpy 选项（q 无提示音、E 通话结束即挂断、S 无可监听通道即停止、w 耳语、B 强插）")
    mode_label: str = Field(description="方式中文名称：监听、耳语或强插")
    message: str = Field(description="给班长看的提示，例如“请接听您的话机（分机8100）开始监听”")
