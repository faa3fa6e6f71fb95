"""用户管理 (users.html) in a real Chromium against the real desk (issue 19, point 10): an administrator creates an
agent and a unit user (the unit chosen by its name), renames one, moves its extension, deactivates and reactivates
it, resets its password; the new user signs in with the temporary password shown once and must set its own. Every
step is in the audit log; the page's own Chinese messages show for bad input; other roles are refused the page.
Screenshots at 1440×900 and 1920×1080 go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.db import models as m
from tests.browser.conftest import PASSWORD
from tests.browser.test_desk_ui import assert_clean, login, logout


@pytest.fixture(scope="module")
def admin(desk) -> str:
    username = f"{desk.tag}-admin"
    with desk.db.session() as session:
        create_user(session, username, PASSWORD, Role.ADMIN, display_name="系统管理员甲")
    return username


def audit_of(desk, username: str) -> list[tuple[str, str]]:
    with desk.db.session() as session:
        rows = session.execute(select(m.AuditEntry.action, m.AuditEntry.detail)
                               .where(m.AuditEntry.object_type == "user", m.AuditEntry.object_id == username)
                               .order_by(m.AuditEntry.id)).all()
    return [tuple(r) for r in rows]


def row_of(page, username: str):
    return page.locator(f"#users-table tr[data-username='{username}']")


def shots(page, shoot, step: str) -> None:
    for width, height in ((1440, 900), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        shoot(page, f"{step}-{width}x{height}")


def test_an_admin_manages_users_on_the_page_and_every_step_is_audited(page, desk, admin, shoot):
    page.on("dialog", lambda dialog: dialog.accept())   # the page asks before deactivating and resetting
    login(page, admin)
    expect(page.locator("#whoami")).to_contain_text("系统管理员甲")
    expect(page).to_have_url(desk.url + "/users.html")   # an admin's home is 用户管理
    expect(row_of(page, desk.users["water"])).to_contain_text("琼海市水务局")     # the unit by its name
    expect(row_of(page, admin)).to_contain_text("（本人）")
    expect(row_of(page, admin).locator("button[data-act=deactivate]")).to_be_disabled()

    # ── bad input: the page's own messages, in Chinese; nothing is sent ──
    form = page.locator("#new-user")
    form.get_by_role("button", name="新建用户").click()
    expect(page.locator("#new-user-msg")).to_have_text("请填写姓名")
    form.get_by_label("姓名").fill("刘小燕")
    form.get_by_label("用户名（登录名）").fill("有 空格")
    form.get_by_label("角色").select_option(label="话务员")
    form.get_by_role("button", name="新建用户").click()
    expect(page.locator("#new-user-msg")).to_have_text(re.compile("用户名只能是"))
    # the roles an admin may not grant are not offered
    options = form.get_by_label("角色").locator("option").all_inner_texts()
    assert "平台管理员" not in options and "审计员" not in options and "话务员" in options

    # ── an agent with a name and an extension ──
    clerk = f"{desk.tag}-clerk"
    extension = str(6000 + int(desk.tag, 16) % 999)
    form.get_by_label("用户名（登录名）").fill(clerk)
    form.get_by_label("分机号").fill(extension)
    form.get_by_role("button", name="新建用户").click()
    created = page.locator("#new-user-msg")
    expect(created).to_contain_text(f"已新建用户 {clerk}")
    temporary = re.search(r"临时密码：([A-Za-z0-9]+)", created.inner_text()).group(1)
    expect(row_of(page, clerk)).to_contain_text("刘小燕")
    expect(row_of(page, clerk)).to_contain_text("须修改密码")
    shots(page, shoot, "created")

    # ── a unit user, its unit chosen by name ──
    unit_user = f"{desk.tag}-unit2"
    form.get_by_label("姓名").fill("赵科长")
    form.get_by_label("用户名（登录名）").fill(unit_user)
    form.get_by_label("角色").select_option(label="承办单位")
    form.get_by_label("所属单位").fill("没有这个单位")
    form.get_by_role("button", name="新建用户").click()
    expect(page.locator("#new-user-msg")).to_have_text("没有名为“没有这个单位”的单位，请从列表中选择")
    form.get_by_label("所属单位").fill("琼海市住房和城乡建设局")
    form.get_by_role("button", name="新建用户").click()
    expect(page.locator("#new-user-msg")).to_contain_text(f"已新建用户 {unit_user}")
    expect(row_of(page, unit_user)).to_contain_text("琼海市住房和城乡建设局")

    # ── rename and move the extension ──
    row_of(page, clerk).get_by_role("button", name="修改").click()
    panel = page.locator("#user-panel")
    panel.get_by_label("姓名").fill("刘燕")
    panel.get_by_label("分机号").fill("12a")
    panel.get_by_role("button", name="保存").click()
    expect(panel.locator(".msg")).to_have_text("分机号须为 3–8 位数字")
    panel.get_by_label("分机号").fill("")
    panel.get_by_role("button", name="保存").click()
    expect(page.locator("#users-msg")).to_have_text("已保存“刘燕”的修改")
    expect(panel).to_be_hidden()
    expect(row_of(page, clerk).locator("td").first).to_have_text("刘燕")
    expect(row_of(page, clerk).locator("td").nth(4)).to_have_text("—")
    shots(page, shoot, "edited")

    # ── deactivate, reactivate, reset ──
    row_of(page, clerk).get_by_role("button", name="停用").click()
    expect(row_of(page, clerk)).to_contain_text("已停用")
    row_of(page, clerk).get_by_role("button", name="启用").click()
    expect(row_of(page, clerk).locator("button[data-act=deactivate]")).to_be_visible()
    row_of(page, clerk).get_by_role("button", name="重置密码").click()
    reset = page.locator("#users-msg")
    expect(reset).to_contain_text("的密码已重置。临时密码：")
    fresh = re.search(r"临时密码：([A-Za-z0-9_-]+)", reset.inner_text()).group(1)
    assert fresh != temporary
    assert_clean(page)
    logout(page)

    # ── the new agent signs in with the temporary password and must set its own ──
    login(page, clerk, fresh)
    page.get_by_label("新密码（至少8位）").fill("liu-yan-own-secret")
    page.get_by_label("再次输入新密码").fill("liu-yan-own-secret")
    page.get_by_role("button", name="修改密码并进入").click()
    expect(page).to_have_url(desk.url + "/agent.html")
    expect(page.locator("#whoami")).to_contain_text("刘燕（话务员）")
    page.goto("/users.html")
    expect(page.get_by_role("alert")).to_have_text("当前角色无权使用此页面。")
    logout(page)

    actions = [a for a, _ in audit_of(desk, clerk)]
    assert actions == ["create_user", "update_user", "deactivate_user", "reactivate_user", "reset_password",
                       "change_password"]
    assert ("update_user", "display_name=刘燕 extension=") in audit_of(desk, clerk)
    assert [a for a, _ in audit_of(desk, unit_user)] == ["create_user"]
    with desk.db.session() as session:
        made = session.scalar(select(m.User).where(m.User.username == unit_user))
        assert made.display_name == "赵科长" and made.role == "unit"
        assert session.get(m.OrgUnit, made.org_unit_id).code == desk.units["housing"]
