"""Browser tests of the desk's web pages: the real desk (uvicorn, in its own process) on a real database and
a real Redis, driven by Debian's Chromium through Playwright. Everything listens on 127.0.0.1 only.

The browser tests run on SQLite only (the API's behaviour on PostgreSQL is covered by tests/component).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.calls import events as ev
from agent_desk.calls.tracker import CallTracker
from agent_desk.calls.transcript import TranscriptRelay
from agent_desk.db.models import DispatchRule, OrgUnit
from agent_desk.db.session import Database
from agent_desk.settings import DeskSettings
from tests.support import transcripts
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS
from tests.support.desk import new_tag
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-12345"
LINE_NAMES = {"12345": "12345政务服务便民热线", "12315": "12315市场监管投诉举报热线"}
CITY_NAMES = {"469002": "琼海市", "460100": "海口市"}


@dataclass
class Desk:
    """The running desk: its URL, settings, database, the users (short name → user name) and units."""

    url: str
    settings: DeskSettings
    db: Database
    tag: str
    log: Path
    units: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    extension: str = ""


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the desk exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the desk did not answer {url} within {timeout} s")


@pytest.fixture(scope="module")
def desk(new_database, redis_server, artifacts):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    database_url = new_database("sqlite")
    # Each module's desk has a new database, so its users get ids 1, 2, ... again; the call state the desk keeps in
    # Redis by user id (an agent's current call) must not carry over from the previous module's desk.
    with redis.Redis.from_url(redis_server.url, password=redis_server.password) as r:
        r.flushdb()
    settings = DeskSettings(database_url=database_url, redis_url=redis_server.url, redis_password=redis_server.password,
                            line_names=LINE_NAMES, city_names=CITY_NAMES)
    db = Database(database_url)
    tag = new_tag()
    port = free_port()
    log = artifacts / "desk-server.log"
    running = Desk(url=f"http://127.0.0.1:{port}", settings=settings, db=db, tag=tag, log=log,
                   extension=str(7000 + secrets.randbelow(999)))
    with db.session() as session:
        province = OrgUnit(code=f"{tag}-prov", name="海南省12345热线平台", kind="province", level="province")
        session.add(province)
        session.flush()
        for short, name in (("water", "琼海市水务局"), ("housing", "琼海市住房和城乡建设局")):
            session.add(OrgUnit(code=f"{tag}-{short}", name=name, kind="member_unit", level="city",
                                parent_id=province.id, subplatform="469002"))
            running.units[short] = f"{tag}-{short}"
        session.flush()
        # 派单目录: water matters in 琼海 go to the water bureau (what the pop's dispatch suggestion shows).
        water_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == running.units["water"]))
        session.add(DispatchRule(kind="catalogue", topic="03-water", keywords=[], subplatform="469002",
                                 unit_id=water_id, basis="城乡供水由水务部门主管"))
        for short, role, unit, extension in (("agent", Role.AGENT, None, running.extension),
                                             ("agent2", Role.AGENT, None, None),
                                             ("boss", Role.SUPERVISOR, None, None),
                                             ("water", Role.UNIT, running.units["water"], None)):
            user = create_user(session, f"{tag}-{short}", PASSWORD, role, display_name=f"测试{short}",
                               unit_code=unit, extension=extension)
            running.users[short], running.user_ids[short] = user.username, user.id

    config = {"database_url": database_url, "redis_url": redis_server.url, "redis_password": redis_server.password,
              "line_names": LINE_NAMES, "city_names": CITY_NAMES, "port": port}
    env = {**os.environ, "DESK_CONFIG": json.dumps(config), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.browser.serve_desk"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(running.url + "/healthz", proc, log)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        db.dispose()


class LoopThread:
    """An asyncio loop in a thread of its own, for the desk's async code (the call tracker) next to
    Playwright's synchronous API, which keeps a loop of its own in the test's thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tracker-loop", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def loop_thread():
    runner = LoopThread()
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # The machine is shared and busy: give the page time, assertions still fail when the thing never shows.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def cancelled_by_navigation(request) -> bool:
    """A GET the browser cancelled (``ERR_ABORTED``) because the page was left or reloaded while it was still
    loading, or because the page itself dropped a stale read (a newer search replaced it): the page's own script
    modules and style sheets, and its API reads. Not an error of the desk's, and a GET changes nothing. One that
    really fails answers an error status (counted in ``server_errors``) or leaves the page without its code or data
    (the page's own checks fail). A POST, PATCH or DELETE cut short is always counted."""
    if request.method != "GET" or request.failure != "net::ERR_ABORTED":
        return False
    if request.resource_type in ("fetch", "xhr"):
        return "/api/v1/" in request.url
    return (request.resource_type, request.url.rsplit(".", 1)[-1]) in (("script", "js"), ("stylesheet", "css"))


@dataclass
class Watch:
    """What the browser saw go wrong: server errors, failed requests, console errors, page errors."""

    responses: list[tuple[int, str, str]] = field(default_factory=list)   # (status, method, url)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    inflight: dict = field(default_factory=dict)   # request -> when it was sent (time.monotonic())

    def server_errors(self) -> list[tuple[int, str, str]]:
        return [r for r in self.responses if r[0] >= 500]

    def unexpected_console_errors(self, allowed_statuses: set[int]) -> list[str]:
        """Console errors, except Chromium's own note of an HTTP error status the test provoked on purpose."""
        out = []
        for text in self.console_errors:
            if text.startswith("Failed to load resource: the server responded with a status of "):
                status = int(text.split("status of ")[1].split()[0])
                if status in allowed_statuses:
                    continue
            out.append(text)
        return out


@pytest.fixture
def page(browser, desk):
    context = browser.new_context(base_url=desk.url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    # Only the desk on loopback: anything else the page might ask for is refused and recorded.
    watch = Watch()

    def route(route_):
        if route_.request.url.startswith(desk.url) or route_.request.url.startswith("data:"):
            route_.continue_()
        else:
            watch.failed.append(f"blocked off-site request {route_.request.url}")
            route_.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("response", lambda r: watch.responses.append((r.status, r.request.method, r.url)))
    tab.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    tab.on("requestfailed", lambda r: watch.failed.append(f"{r.method} {r.url}: {r.failure}")
           if "/ws/desk" not in r.url and not cancelled_by_navigation(r) else None)
    tab.on("request", lambda r: watch.inflight.__setitem__(r, time.monotonic()))
    tab.on("requestfinished", lambda r: watch.inflight.pop(r, None))
    tab.on("requestfailed", lambda r: watch.inflight.pop(r, None))
    tab.watch = watch
    yield tab
    context.close()


def settle(page, writes_only: bool = False, quiet: float = 0.5, timeout: float = 60.0) -> None:
    """Wait until the page has had no request in flight for ``quiet`` seconds (only POST/PATCH/PUT/DELETE with
    ``writes_only``), or fail naming the requests still open. Playwright's own ``networkidle`` wait gave up after
    20 s on a loaded machine without saying what it waited for; this one says, and waits longer."""
    watch = page.watch
    deadline = time.monotonic() + timeout
    idle_since = None
    while True:
        page.wait_for_timeout(100)   # lets Playwright deliver the request events
        now = time.monotonic()
        open_ = [(r, t) for r, t in list(watch.inflight.items()) if not writes_only or r.method != "GET"]
        if open_:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= quiet:
            return
        if now > deadline:
            still = [f"{r.method} {r.url} ({r.resource_type}, {now - t:.1f} s)" for r, t in open_]
            raise AssertionError(f"requests still in flight after {timeout:.0f} s: {still}")


@pytest.fixture
def shoot(artifacts, request):
    """shoot(page, "step") saves a full-page screenshot as tests/artifacts/browser/<test>-<nn>-<step>.png."""
    counter = [0]

    def take(page_, step: str) -> Path:
        counter[0] += 1
        path = artifacts / f"{request.node.name}-{counter[0]:02d}-{step}.png"
        page_.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def rclient(redis_server):
    client = redis.Redis.from_url(redis_server.url, password=redis_server.password, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def desk_side(desk, loop_thread):
    """The call tracker and the transcript relay, on the helper loop, as the desk's listener runs them."""

    async def make():
        tracker = CallTracker(desk.db, desk.settings.async_redis(), desk.settings.line_names, desk.settings.city_names)
        relay = TranscriptRelay(desk.db, desk.settings.async_redis(), tracker.agent_of_call)
        return tracker, relay, asyncio.get_running_loop().create_task(relay.run())

    tracker, relay, running = loop_thread.run(make())
    loop_thread.run(asyncio.wait_for(relay.synced.wait(), 20))
    yield tracker, relay

    loop_thread.run(transcripts.stop(running, tracker.redis, relay.redis))


@pytest.fixture
def client(desk):
    with httpx.Client(base_url=desk.url, timeout=20) as http:
        yield http


@pytest.fixture
def tracker(desk, loop_thread):
    """The desk's call tracker, with its own async Redis client, on the helper loop (as the listener runs it)."""

    async def make():
        return CallTracker(desk.db, desk.settings.async_redis(), desk.settings.line_names, desk.settings.city_names)

    made = loop_thread.run(make())
    yield made
    loop_thread.run(made.redis.aclose())


def answer_call(loop_thread, tracker, desk, facts, now, waited: int = 20, first: int = 1) -> None:
    """The call joins its queue ``waited`` seconds before ``now`` and the desk's agent answers it, through the call
    tracker (the listener's own code path, which pushes the pop); ``first`` numbers its two channels."""
    async def answer():
        await tracker.apply(ev.QueueJoined(facts, f"PJSIP/carrier-{first:08d}", now - dt.timedelta(seconds=waited)))
        await tracker.apply(ev.AgentAnswered(facts, desk.extension, f"PJSIP/{desk.extension}-{first + 1:08d}", waited,
                                             now))

    loop_thread.run(answer())
