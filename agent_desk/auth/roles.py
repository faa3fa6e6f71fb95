"""The desk's roles and how they map onto the ticket lifecycle's roles."""

from __future__ import annotations

from enum import StrEnum

from agent_desk.tickets.lifecycle import Role as LifecycleRole


class Role(StrEnum):
    AGENT = "agent"            # 话务员: answers calls, creates tickets, resolves directly, dispatches
    SUPERVISOR = "supervisor"  # 平台 (值班长/派单审核/回访): sees all, reviews, calls back
    UNIT = "unit"              # 承办单位: its own tickets only
    ADMIN = "admin"            # users and reference data; no ticket contents
    GATEWAY = "gateway"        # 渠道接入: a web-form / WeChat / SMS / e-mail gateway that only submits tickets
    AUDITOR = "auditor"        # 审计员: reads and exports the audit log; no ticket contents, no administration


ROLE_LABELS = {Role.AGENT: "话务员", Role.SUPERVISOR: "平台管理员", Role.UNIT: "承办单位", Role.ADMIN: "系统管理员",
               Role.GATEWAY: "渠道接入", Role.AUDITOR: "审计员"}

LIFECYCLE_ROLE = {
    Role.AGENT: LifecycleRole.AGENT,
    Role.SUPERVISOR: LifecycleRole.PLATFORM,
    Role.UNIT: LifecycleRole.UNIT,
}

WATCHERS = (Role.SUPERVISOR, Role.ADMIN)   # who watches the live wallboard and the early-warning alerts
