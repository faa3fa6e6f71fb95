"""The wallboard page in Chromium against the real desk: snapshots made by the real ``Wallboard`` from AMI events
recorded on the real Asterisk, published to the desk's Redis exactly as the listener does, plus an early-warning
alert. Tiles, tables, agent grid, charts (SVG), alerts with their ticket links, and the disconnected banner; today's
GB/T 33358 figures and the speech service's state (转写繁忙), polled from the API."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import redis
from playwright.sync_api import expect

from sqlalchemy import insert, update

from agent_desk.db import models as m
from agent_desk.calls import recording_watch
from agent_desk.supervision import asr_pool, cluster_board, warnings
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, Wallboard
from hotline.contracts import asr
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.browser.conftest import PASSWORD, settle
from tests.browser.test_desk_ui import assert_clean, login, wait_subscribed
from tests.support.wallboard import recorded, stamp

ALERT = {"id": "w0123456789abcde", "rule": "town-24h", "rule_label": "乡镇聚集",
         "title": "嘉积镇 24小时内 5 件“自来水、发黄”相关诉求", "area": "469002100", "area_name": "琼海市嘉积镇",
         "topic": "03-water", "topic_name": "供水排水", "keywords": ["自来水", "发黄"], "count": 5, "window_hours": 24,
         "tickets": ["20260601000101", "20260601000102", "20260601000103", "20260601000104", "20260601000105"],
         "first_at": "2026-06-01T08:10:00+08:00", "last_at": "2026-06-01T09:50:00+08:00",   # as clustering writes it
         "raised_at": "2026-06-01T10:00:00+08:00", "acknowledged_by": None, "acknowledged_at": None}


def publish(client: redis.Redis, snapshot: dict) -> None:
    message = json.dumps(snapshot, ensure_ascii=False)
    client.set(SNAPSHOT_KEY, message)
    client.publish(warnings.CHANNEL, message)


def test_the_wallboard_page_shows_the_live_board(page, desk, redis_server, shoot, artifacts):
    client = redis.Redis.from_url(redis_server.url, password=redis_server.password, decode_responses=True)
    board = Wallboard.from_plan(load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"))
    events = recorded()
    joins = [i for i, e in enumerate(events) if e.name == "QueueCallerJoin"]
    for event in events[:joins[1] + 1]:   # one call answered and done, the agent paused, a second call waiting
        board.apply(event)
    board.set_connected(True)   # as after the listener's first rebuild
    publish(client, board.snapshot(stamp(events[joins[1]]) + 3))
    # The desk's early warning scans once in the background on start and expires stored alerts it does not
    # find: let that scan be over (a scan on request waits for it) before an alert of ours is stored.
    token = httpx.post(f"{desk.url}/api/v1/auth/login", json={"username": desk.users["boss"], "password": PASSWORD}
                       ).json()["token"]
    scanned = httpx.post(f"{desk.url}/api/v1/warnings/scan", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert scanned.status_code == 200, scanned.text
    client.delete(warnings.ACTIVE)   # the session's Redis: alerts other tests stored are not this page's
    client.hset(warnings.ACTIVE, ALERT["id"], json.dumps(ALERT, ensure_ascii=False))
    # Today's calls for the standard figures (other browser tests may add theirs: the page is compared with the
    # API), and an ASR pool that shed phrases in the last minute.
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with desk.db.session() as session:
        session.execute(insert(m.Call), [
            {"call_id": f"{desk.tag}-wb{i}", "started_at": start, "arrived_at": start,
             "queued_at": start + dt.timedelta(seconds=5), "outcome": outcome, "transfers": [],
             "answered_at": start + dt.timedelta(seconds=5 + wait) if wait is not None else None,
             "ended_at": start + dt.timedelta(seconds=90), "prefill_usable": prefilled}
            for i, (wait, outcome, prefilled) in enumerate([(8, "answered", True), (30, "answered", False),
                                                            (None, "abandoned", None)])])
    now = time.time()
    client.delete(asr.STATS_KEY, asr.WORKERS_KEY, asr_pool.SAMPLES_KEY)
    client.hset(asr.STATS_KEY, mapping={"jobs": 80, "ok": 70, "shed": 10, "lost": 0, "failed": 0})
    client.hset(asr.WORKERS_KEY, "asr-1", json.dumps({"at": now + 3600, "done": 70, "busy": True}))  # alive all test
    client.set(asr_pool.SAMPLES_KEY, json.dumps([{"at": now - 70, "jobs": 50, "ok": 46, "shed": 4, "lost": 0,
                                                  "failed": 0}]))
    # The recordings volume as the listener's watch finds it: below the low mark (空间不足), fresh for the whole test.
    client.delete(recording_watch.STATE_KEY)
    client.hset(recording_watch.STATE_KEY, "", recording_watch.encode(
        {"node": "", "state": "low", "free_bytes": 300 << 20, "total_bytes": 100 << 30, "low_bytes": 1 << 30,
         "recording": 2, "at": now + 3600}))
    with desk.db.session() as session:   # the agent at 8001 is a person with a name, not the phone's "agent-8001"
        session.execute(update(m.User).where(m.User.username == desk.users["agent2"]).values(extension="8001"))
    try:
        login(page, desk.users["boss"])
        expect(page.locator("#whoami")).to_be_visible()
        # The supervisor's home (工单查询) loads its ticket list: leaving before it arrives would abort it.
        settle(page)
        page.goto("/wallboard.html")
        expect(page.get_by_role("link", name="实时监控")).to_have_attribute("aria-current", "page")
        expect(page.locator("#t-waiting")).to_have_text("1")
        expect(page.locator("#t-answered")).to_have_text("1")
        expect(page.locator("#t-abandoned")).to_have_text("0")
        expect(page.locator("#t-sl")).to_have_text("100.0%")
        expect(page.locator("#wb-conn")).to_have_text("实时")
        province = page.locator("#wb-queues tr[data-key='province']")
        expect(province).to_contain_text("省平台综合话务")
        expect(province.locator("td").first).to_have_text("1")
        expect(page.locator("#wb-lines tr[data-key='12318']")).to_contain_text("文化市场举报热线")
        expect(page.locator("#wb-subplatforms tr[data-key='469002']")).to_contain_text("琼海")
        agent = page.locator("#wb-agents li[data-extension='8001']")
        expect(agent).to_have_attribute("data-state", "paused")
        expect(agent).to_contain_text("午休")
        expect(agent.locator(".wb-agent-name")).to_have_text("测试agent2")
        # Charts (charts.js SVG): the province's bar has a length, the gauge its value arc, the donut a ring
        # in the paused colour (the only agent is paused).
        expect(page.locator("#c-waiting svg rect").first).not_to_have_attribute("width", "0.0")
        expect(page.locator("#c-waiting svg")).to_contain_text("省平台综合话务")
        expect(page.locator("#c-sl svg path")).to_have_count(2)
        expect(page.locator("#c-sl svg")).to_contain_text("100.0%")
        expect(page.locator("#c-states svg [stroke='#f78c40']")).to_have_count(1)   # the palette's paused (charts.js)
        # 国标话务指标 and the speech service, polled from the API: the page shows what the API says.
        standard = httpx.get(f"{desk.url}/api/v1/wallboard/standard", headers={"Authorization": f"Bearer {token}"},
                             timeout=10).json()
        assert standard["offered"] >= 3 and standard["service_level_seconds"] == 15
        for code in ("answer", "service_level", "prefill"):
            rate = standard["metrics"][code]["rate"]
            expect(page.locator(f"#std-tiles [data-tile='{code}'] .wb-tile-value")).to_have_text(f"{rate * 100:.1f}%")
        expect(page.locator("#std-tiles [data-tile='service_level'] .wb-tile-label")).to_have_text(
            "服务水平（15秒内接通）")
        expect(page.locator("#std-tiles [data-tile='to_queue'] .wb-tile-label")).to_have_text("来电至入队平均时长")
        wait = standard["metrics"]["wait"]["seconds"]
        expect(page.locator("#std-tiles [data-tile='wait'] .wb-tile-value")).to_have_text(f"{wait:.1f}秒")
        expect(page.locator("#c-standard svg rect")).to_have_count(4)
        expect(page.locator("#c-standard svg")).to_contain_text("预填可用率")
        expect(page.locator("#asr-state")).to_have_text("转写繁忙")
        expect(page.locator("#asr-state")).to_have_attribute("data-state", "busy")
        expect(page.locator("#asr-msg")).to_contain_text("转写繁忙")
        expect(page.locator("#asr-tiles [data-tile='shed'] .wb-tile-value")).to_have_text("6")
        expect(page.locator("#asr-tiles [data-tile='shed'] .wb-tile-label")).to_contain_text("过载放弃")
        expect(page.locator("#asr-tiles [data-tile='alive'] .wb-tile-value")).to_have_text("1 / 1")
        expect(page.locator("#wb-rec")).to_have_text("录音存储空间不足（剩余 300 MB）")
        expect(page.locator("#wb-rec")).to_have_attribute("data-state", "low")

        alert = page.locator(f"#wb-alerts li[data-id='{ALERT['id']}']")
        expect(alert).to_contain_text("自来水")
        expect(alert.locator("a")).to_have_count(5)
        expect(alert.locator("a").first).to_have_attribute("href", "/search.html?number=20260601000101")

        # Live: the waiting caller hangs up (the recording goes on), a new alert arrives on the same channel.
        wait_subscribed(client, warnings.CHANNEL)
        for event in events[joins[1] + 1:]:
            board.apply(event)
            if event.name == "QueueCallerAbandon":
                publish(client, board.snapshot(stamp(event)))
                break
        expect(page.locator("#t-abandoned")).to_have_text("1")
        expect(page.locator("#t-waiting")).to_have_text("0")
        expect(page.locator("#t-sl")).to_have_text("50.0%")
        second = {**ALERT, "id": "w00000000000000f", "title": "琼海市 24小时内 10 件“积水”相关诉求", "count": 10,
                  "tickets": ["20260601000201"]}
        client.publish(warnings.CHANNEL, json.dumps({"type": "alert", **second}, ensure_ascii=False))
        expect(page.locator("#wb-alerts li.wb-alert")).to_have_count(2)
        shoot(page, "live")
        page.screenshot(path=str(artifacts / "wallboard.png"), full_page=True)

        # A cluster (issue 15): the same board as node n1's part, n2's listener silent for longer than the staleness
        # window: n2 is said offline at the top, the rest of the board is n1's.
        at = stamp(event) + 0.5
        publish(client, cluster_board.merge({"n1": board.snapshot(at, sums=True), "n2": None}, at, 15))
        expect(page.locator("#wb-msg")).to_have_text(
            "n2 节点离线：其排队来电与坐席状态暂不计入，今天已发生的话务仍计入")
        expect(page.locator("#wb-conn")).to_have_text("实时")
        expect(page.locator("#t-abandoned")).to_have_text("1")

        # Asterisk unreachable: the board says so.
        board.set_connected(False)
        publish(client, board.snapshot(stamp(event) + 1))
        expect(page.locator("#wb-msg")).to_have_text("与电话系统的连接已断开，正在重连…")
        expect(page.locator("#wb-conn")).to_have_text("已断开")
        assert_clean(page)
    finally:
        client.delete(asr.STATS_KEY, asr.WORKERS_KEY, asr_pool.SAMPLES_KEY, recording_watch.STATE_KEY)
        client.delete(SNAPSHOT_KEY)
        client.hdel(warnings.ACTIVE, ALERT["id"])
        client.close()
