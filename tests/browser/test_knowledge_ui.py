"""可直接答复 on the agent's page, in a real Chromium against the real desk: as the agent types the citizen's
description, the panel shows the knowledge article that answers it (POST /api/v1/knowledge/suggestions), follows
the text when it changes, and opens the article's full text; during a call it follows the live transcript (turns
written to Redis as the IVR side writes them, relayed by the desk's own relay and tracker)."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from agent_desk.calls import events as ev
from agent_desk.knowledge.search import upsert_article
from hotline.contracts.transcript import Turn
from tests.browser.test_desk_ui import agent_ready, assert_clean, login
from tests.support import transcripts
from tests.browser.conftest import answer_call, settle


def test_typing_a_description_shows_the_article_that_answers_it(page, desk, shoot):
    water, fund = f"{desk.tag}-water-yellow", f"{desk.tag}-gjj"
    with desk.db.session() as session:
        upsert_article(session, code=water, title="自来水发黄、浑浊怎么办",
                       body="自来水发黄多因管道锈蚀或施工冲刷，可先放水几分钟；持续发黄请联系供水企业检测水质。")
        upsert_article(session, code=fund, title="住房公积金提取",
                       body="购房、租房、退休等情形可申请提取住房公积金，材料以公积金中心要求为准。")
        upsert_article(session, code=f"{desk.tag}-noise", title="噪音扰民投诉",
                       body="夜间施工、娱乐场所噪音扰民的，可向生态环境或城管部门反映。")

    login(page, desk.users["agent"])
    expect(page).to_have_url(desk.url + "/agent.html")
    panel = page.locator("#answers-card")
    expect(panel.get_by_role("heading", name=re.compile("可直接答复"))).to_be_visible()
    expect(page.locator("#answers-note")).to_have_text("输入或转写诉求后，这里显示可直接答复的知识条目。")

    content = page.get_by_label("诉求内容（必填）")
    content.press_sequentially("我家的自来水这两天发黄", delay=30)
    first = page.locator("#answers li").first
    expect(first).to_have_attribute("data-code", water)
    expect(first).to_contain_text("自来水发黄、浑浊怎么办")
    expect(first).to_contain_text("共有词语：")
    expect(page.locator(f"#answers li[data-code='{fund}']")).to_have_count(0)
    shoot(page, "answers-water")

    first.get_by_role("button", name="查看全文").click()
    expect(first.locator(".kb-body")).to_have_text(re.compile("持续发黄请联系供水企业检测水质"))
    expect(first.get_by_role("button", name="收起")).to_have_attribute("aria-expanded", "true")

    # the description changes: the panel follows it
    content.fill("")
    content.press_sequentially("我想提取公积金买房，需要什么材料", delay=30)
    expect(page.locator("#answers li").first).to_have_attribute("data-code", fund)
    expect(page.locator(f"#answers li[data-code='{water}']")).to_have_count(0)

    # a description no article answers: said so, nothing shown
    content.fill("隔壁的狗今天跑丢了")
    expect(page.locator("#answers-note")).to_have_text("暂无相关知识条目。")
    expect(page.locator("#answers li")).to_have_count(0)
    shoot(page, "answers-none")
    settle(page)
    assert_clean(page)


def test_during_a_call_the_panel_follows_what_the_citizen_says(page, desk, rclient, desk_side, loop_thread, shoot):
    tracker, _relay = desk_side
    taxi = f"{desk.tag}-taxi"
    with desk.db.session() as session:
        upsert_article(session, code=taxi, title="出租车、网约车投诉",
                       body="出租车绕路、拒载、乱收费，请提供车牌号、乘车时间和上下车地点，向交通运输部门投诉。")
    agent_ready(page, desk, rclient)
    call_id = f"{desk.tag}.kb"
    facts = ev.CallFacts(call_id=call_id, caller="13876500000", line="12345", line_class="main",
                         subplatform="469002", queue="hotline-469002", appeal_type="complaint")
    now = dt.datetime.now(dt.UTC)

    answer_call(loop_thread, tracker, desk, facts, now, waited=5, first=9)
    expect(page.locator("#call-caller")).to_have_text("13876500000")
    expect(page.get_by_label("诉求内容（必填）")).to_have_value("")   # no prefill: only the turns speak
    transcripts.append(rclient, Turn(call_id=call_id, speaker="agent", seq=0, text="您好，12345热线，请讲",
                                     start=5.0, end=7.0))
    transcripts.append(rclient, Turn(call_id=call_id, speaker="citizen", seq=0, text="我刚才坐出租车",
                                     start=8.0, end=10.0))
    expect(page.locator("#turns li")).to_have_count(2)
    transcripts.append(rclient, Turn(call_id=call_id, speaker="citizen", seq=1,
                                     text="司机故意绕路多收了我三十块钱", start=11.0, end=14.0))
    first = page.locator("#answers li").first
    expect(first).to_have_attribute("data-code", taxi)
    expect(first).to_contain_text("绕路")
    shoot(page, "answers-transcript")
    settle(page)
    assert_clean(page)
