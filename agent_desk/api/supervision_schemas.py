"""What the supervision endpoints answer (``agent_desk.api.supervision``): the KPIs, the 观/管/评 views and the
reports, field by field as ``agent_desk.supervision.{kpi,views,reports,periods}`` build them.

Every metric has the same shape (``Ratio``: numerator, denominator, rate); the metrics of a total or a row are
one model with a field per metric, so integrators see the whole list, and a metric added to ``kpi.RATIOS``
without being declared here fails the tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from agent_desk.api.schemas import Reply
from agent_desk.supervision import kpi

PeriodKind = Literal["day", "week", "month", "year", "custom"]
KpiBy = Literal[kpi.BY]  # type: ignore[valid-type]
MetricCode = Literal[kpi.METRICS]  # type: ignore[valid-type]
ReportKind = Literal["daily", "weekly", "monthly", "special"]
CellFormat = Literal["text", "int", "rate", "seconds"]

RATE = "比率（0 至 1 的小数，保留 6 位）；分母为 0 时为 null（页面显示“—”），而不是 0 或 100%"
NOT_CALLS = "；不涉及话务时（按承办单位、区域、事项等分组的行，或承办单位用户查询）为 null"


class PeriodReply(Reply):
    """统计周期（省内时间，起止日期均含）。"""

    kind: PeriodKind = Field(description="周期类型：day 日、week 周（ISO 周）、month 月、year 年、custom 自定义")
    start: dt.date = Field(description="第一天")
    end: dt.date = Field(description="最后一天（含）")
    label: str = Field(description="中文名称，例如“2026年11月”“2026年第47周”")


class Ratio(Reply):
    """一个比率指标：分子、分母与比率。"""

    num: int = Field(description="分子")
    den: int = Field(description="分母")
    rate: float | None = Field(description=RATE)


class HandleTime(Reply):
    """平均处理时长：已接通并结束的来电，接通到挂机的平均秒数。"""

    seconds: float | None = Field(description="平均处理时长（秒，保留 1 位小数）；没有已结束的接通来电时为 null")
    n: int = Field(description="参与计算的来电数")


class MeanSeconds(Reply):
    """一个平均时长：秒数与参与计算的来电数。"""

    seconds: float | None = Field(description="平均秒数（保留 1 位小数）；没有可参与计算的来电时为 null")
    n: int = Field(description="参与计算的来电数")


OFFERED = "呼入量（进入队列且已接通、挂机或放弃的来电，进入队列后 5 秒内放弃的也计入）"
CALL_METRIC_TEXT = {
    "answer": f"接通率（GB/T 33358）：坐席接通 ÷ {OFFERED}",
    "service_level": f"服务水平：首次进入队列后在阈值（默认 15 秒）内接通 ÷ {OFFERED}",
    "abandon": f"放弃率：排队中放弃 ÷ {OFFERED}（越低越好）",
    "short_abandon": f"5秒内放弃率：进入队列后 5 秒内挂机 ÷ {OFFERED}（越低越好）",
    "prefill": "预填可用率：坐席接听时预填已有市民诉求的转写文字 ÷ 接通",
    "aht": "平均处理时长：已接通并结束的来电，接通到挂机的平均秒数",
    "wait": "平均等待时长：接通的来电从首次进入队列到坐席接听的平均秒数（溢出的等待一并计入）",
    "to_queue": "来电至入队平均时长：从来电到达（呼入通道建立）到进入队列的平均秒数；只计坐席服务看到到达的来电",
}


class KpiMetrics(Reply):
    """考核指标（口径见 agent_desk/supervision/kpi.py 的说明）。"""

    response: Ratio = Field(description="响应率：派单后在时限（默认 24 小时）内签收的工单 ÷ 派单量")
    completion: Ratio = Field(description="办结率：已办结工单 ÷ 受理量（不含不予受理）")
    on_time: Ratio = Field(description="按时办结率：按时办结 ÷ 应办结")
    callback: Ratio = Field(description="回访率：有回访结果的已办结工单 ÷ 已办结工单")
    satisfaction: Ratio = Field(description="满意率：（满意 + 基本满意）÷ 回访评价数")
    effective_satisfaction: Ratio = Field(description="实际参评满意率：剔除申诉核准不参评的工单后的满意率")
    resolution: Ratio = Field(description="解决率：评价为已解决 ÷ 回访评价数（剔除不参评工单）")
    answer: Ratio | None = Field(description=CALL_METRIC_TEXT["answer"] + NOT_CALLS)
    service_level: Ratio | None = Field(description=CALL_METRIC_TEXT["service_level"] + NOT_CALLS)
    abandon: Ratio | None = Field(description=CALL_METRIC_TEXT["abandon"] + NOT_CALLS)
    short_abandon: Ratio | None = Field(description=CALL_METRIC_TEXT["short_abandon"] + NOT_CALLS)
    prefill: Ratio | None = Field(description=CALL_METRIC_TEXT["prefill"] + NOT_CALLS)
    aht: HandleTime | None = Field(description="平均处理时长" + NOT_CALLS)
    wait: MeanSeconds | None = Field(description=CALL_METRIC_TEXT["wait"] + NOT_CALLS)
    to_queue: MeanSeconds | None = Field(description=CALL_METRIC_TEXT["to_queue"] + NOT_CALLS)


class CallMetrics(Reply):
    """话务指标（GB/T 33358；口径见 agent_desk/supervision/kpi.py 的说明，与报表、考核指标相同）。"""

    answer: Ratio = Field(description=CALL_METRIC_TEXT["answer"])
    service_level: Ratio = Field(description=CALL_METRIC_TEXT["service_level"])
    abandon: Ratio = Field(description=CALL_METRIC_TEXT["abandon"])
    short_abandon: Ratio = Field(description=CALL_METRIC_TEXT["short_abandon"])
    prefill: Ratio = Field(description=CALL_METRIC_TEXT["prefill"])
    aht: HandleTime = Field(description=CALL_METRIC_TEXT["aht"])
    wait: MeanSeconds = Field(description=CALL_METRIC_TEXT["wait"])
    to_queue: MeanSeconds = Field(description=CALL_METRIC_TEXT["to_queue"])


class KpiCounts(Reply):
    accepted: int = Field(description="受理量（含不予受理，不含关联为重复的工单）")
    direct: int = Field(description="直接办结量")
    dispatched: int = Field(description="派单量")
    refused: int = Field(description="不予受理量")
    offered: int = Field(description="呼入量（进入队列的来电）；不涉及话务时为 0")


class KpiTotals(KpiCounts):
    """整个周期（及筛选范围）的合计。"""

    metrics: KpiMetrics = Field(description="合计的各项指标")


class KpiRow(Reply):
    """一个分组（承办单位、区域、分平台、热线、事项、诉求类型或渠道）的数量与指标。"""

    key: str = Field(description="分组代码（单位或区域代码、热线号码、事项代码等）；空字符串表示未归属的部分")
    name: str = Field(description="分组名称；上级单位自己直接承办的部分名为“某某（本级）”")
    has_children: bool = Field(description="可以下钻（以 key 作为 parent 再查）")
    volume: int = Field(description="排名所用的量：工单指标为受理量，话务指标为呼入量")
    rank: int | None = Field(
        description="按所选指标的名次（并列同名次：1、2、2、4）；量不足 min_volume 或没有比率时为 null")
    metrics: KpiMetrics = Field(description="该分组的各项指标")
    accepted: int = Field(description="受理量")
    direct: int = Field(description="直接办结量")
    dispatched: int = Field(description="派单量")
    refused: int = Field(description="不予受理量")
    offered: int = Field(description="呼入量；不涉及话务时为 0")


class KpiReply(Reply):
    """考核指标：合计与按维度分组的排名。"""

    period: PeriodReply
    by: KpiBy = Field(description="分组维度")
    parent: str | None = Field(description="下钻的上级代码；承办单位用户按单位分组时为其本单位代码；null 表示最上层")
    metric: MetricCode = Field(description="排名所用的指标")
    min_volume: int = Field(description="参与排名的最小量")
    totals: KpiTotals
    rows: list[KpiRow] = Field(description="各分组，已排名的在前（名次升序），其余按量降序在后")


# ── 观 overview ─────────────────────────────────────────────────────────────────────────────────────
class Trend(Reply):
    """按时间段（日：每小时；周、月、62 天以内的自定义：每天；年及更长：每月）的走势，各列表等长。"""

    labels: list[str] = Field(description="时间段名称，例如“08时”“11月22日”“11月”")
    accepted: list[int] = Field(description="各时间段受理量")
    offered: list[int] = Field(description="各时间段呼入量")
    answered: list[int] = Field(description="各时间段接通量")


class ViewCount(Reply):
    """一项及其数量。"""

    key: str = Field(description="代码；空字符串表示未归属的部分")
    name: str = Field(description="中文名称")
    value: int = Field(description="数量（观：受理量；管：在办工单数）")


class LineCount(ViewCount):
    offered: int = Field(description="该热线号码的呼入量")


class AreaCount(ViewCount):
    has_children: bool = Field(description="可以下钻（以 key 作为 parent 再查）")


class OverviewReply(Reply):
    """观：受理与来电总量、走势，以及工单从哪里来。"""

    period: PeriodReply
    totals: KpiTotals
    trend: Trend
    by_appeal_type: list[ViewCount] = Field(description="按诉求类型的受理量，降序")
    by_channel: list[ViewCount] = Field(description="按受理渠道的受理量，降序")
    by_line: list[LineCount] = Field(description="按热线号码的受理量与呼入量，按受理量降序")
    by_area: list[AreaCount] = Field(description="按区域（分平台、市县、乡镇……）的受理量，降序")
    parent: str | None = Field(description="区域下钻的上级代码；null 表示最上层")
    top_topics: list[ViewCount] = Field(description="受理量前 10 的诉求事项")


# ── 管 process ──────────────────────────────────────────────────────────────────────────────────────
class UnitWorkload(Reply):
    """一个承办单位（含下级）的在办工单与本周期退单。"""

    key: str = Field(description="单位代码")
    name: str = Field(description="单位名称；上级单位自己直接承办的部分名为“某某（本级）”")
    open: int = Field(description="在办工单数")
    overdue: int = Field(description="办理中且已超期的工单数")
    returns: int = Field(description="本周期申请退单次数")
    has_children: bool = Field(description="可以下钻（以 key 作为 parent 再查）")


class OverdueTicket(Reply):
    """超期工单（不含个人信息）。"""

    number: str = Field(description="工单编号")
    title: str = Field(description="工单标题")
    unit: str | None = Field(description="承办单位名称；未派单时为 null")
    due_at: str = Field(description="办理时限（ISO 8601 时间）")


class ProcessReply(Reply):
    """管：当前在办、超期、临期的工单，及本周期的退单与督办。"""

    period: PeriodReply
    by_state: list[ViewCount] = Field(description="按工单状态的在办数（现在，不受周期限制）")
    overdue: int = Field(description="办理中且已超期的工单数（现在）")
    due_soon: int = Field(description="24 小时内到期的办理中工单数（现在）")
    open: int = Field(description="在办工单数（现在）")
    returns: int = Field(description="本周期申请退单次数")
    supervisions: int = Field(description="本周期督办次数")
    by_level: list[ViewCount] = Field(description="按办理层级（小环、中环、大环）的在办数")
    by_unit: list[UnitWorkload] = Field(description="按承办单位，超期多的在前")
    parent: str | None = Field(description="单位下钻的上级代码；null 表示最上层")
    overdue_tickets: list[OverdueTicket] = Field(description="超期工单，时限最早的在前，最多 50 件")


# ── 评 evaluation ───────────────────────────────────────────────────────────────────────────────────
class RankingEntry(Reply):
    rank: int = Field(description="名次（并列同名次）")
    key: str = Field(description="单位或区域代码")
    name: str = Field(description="单位或区域名称")
    num: int = Field(description="分子")
    den: int = Field(description="分母")
    rate: float | None = Field(description=RATE)


class Rankings(Reply):
    """各指标的前 20 名（量不足 min_volume 的不排名）。"""

    satisfaction: list[RankingEntry] = Field(description="满意率排名")
    effective_satisfaction: list[RankingEntry] = Field(description="实际参评满意率排名")
    on_time: list[RankingEntry] = Field(description="按时办结率排名")
    response: list[RankingEntry] = Field(description="响应率排名")
    resolution: list[RankingEntry] = Field(description="解决率排名")
    completion: list[RankingEntry] = Field(description="办结率排名")


class EvaluationReply(Reply):
    """评：各承办单位或区域的考核指标与排名。"""

    period: PeriodReply
    by: Literal["unit", "area"] = Field(description="按承办单位（unit）或区域（area）")
    parent: str | None = Field(description="下钻的上级代码；null 表示最上层")
    min_volume: int = Field(description="参与排名的最小受理量")
    totals: KpiTotals
    rankings: Rankings
    rows: list[KpiRow] = Field(description="各单位或区域，按满意率排名")


# ── reports ─────────────────────────────────────────────────────────────────────────────────────────
class ReportSection(Reply):
    """报表的一节：表格（table），或“指标—数值”两列的主要指标（figures）。"""

    title: str = Field(description="节标题")
    kind: Literal["table", "figures"] = Field(description="table 表格；figures 主要指标（两列：指标、数值）")
    columns: list[str] = Field(description="列名")
    formats: list[CellFormat] = Field(
        description="数值的显示格式：表格每列一个，figures 每行一个。text 文本、int 整数、rate 比率（0 至 1 的小数，"
                    "显示为百分比）、seconds 秒数")
    rows: list[list[str | int | float | None]] = Field(description="各行的单元格；null 表示无数值（显示为“—”）")


class ChartSeries(Reply):
    name: str = Field(description="数据系列名称，例如“受理量”")
    values: list[int] = Field(description="与 labels 一一对应的数值")


class ReportChart(Reply):
    """报表附带的图表。"""

    title: str = Field(description="图表标题")
    type: Literal["donut", "bars", "line", "stacked"] = Field(
        description="donut 环形图、bars 柱状图、line 折线图、stacked 堆叠条形图（每个标签一行，各系列首尾相接）")
    labels: list[str] = Field(description="类别或时间段名称")
    series: list[ChartSeries] = Field(description="数据系列")


class ReportFilters(Reply):
    """专报的筛选条件；日报、周报、月报均为 null。"""

    topic: str | None = Field(description="诉求事项代码")
    keyword: str | None = Field(description="标题或内容中的关键词")
    area: str | None = Field(description="区域代码")


class ReportReply(Reply):
    """日报、周报、月报或专报（JSON 格式）：只含数量与比率，不含市民姓名、电话或诉求原文。"""

    title: str = Field(description="报表标题，例如“海南省12345热线月报（2026年11月）”；也是下载文件的文件名")
    kind: ReportKind = Field(description="daily 日报、weekly 周报、monthly 月报、special 专报")
    period: PeriodReply
    filters: ReportFilters
    sections: list[ReportSection] = Field(description="各节，依次为主要指标、按诉求类型、按市县、热点事项、"
                                                      "承办单位排名、超期单位，以及（不筛选时）分热线话务、"
                                                      "（日报以外）趋势")
    charts: list[ReportChart] = Field(description="图表")
