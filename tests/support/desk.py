"""A desk for tests: the real app on a real database and Redis, with one user per role and a few units.

Codes are made unique per rig, so rigs can share a database (the ``database_url`` fixture is per session).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from dataclasses import dataclass, field
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from agent_desk.app import create_app
from agent_desk.calls.listener import CallListener
from agent_desk.process import DeskProcess, build_desk
from agent_desk.telephony.recording import recordings_dir
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal, create_user
from agent_desk.db.models import OrgUnit, User
from agent_desk.settings import DeskSettings

PASSWORD = "correct-horse-12345"


@dataclass
class DeskRig:
    client: TestClient
    tag: str
    units: dict[str, str] = field(default_factory=dict)     # short name → org code
    tokens: dict[str, str] = field(default_factory=dict)    # short user name → token

    @property
    def app(self):
        return self.client.app

    def user(self, short: str) -> str:
        return f"{self.tag}-{short}"

    def login(self, short: str) -> str:
        response = self.client.post("/api/v1/auth/login", json={"username": self.user(short), "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.client.cookies.clear()  # tests authenticate explicitly, per request
        self.tokens[short] = response.json()["token"]
        return self.tokens[short]

    def as_(self, short: str) -> dict[str, str]:
        if short not in self.tokens:
            self.login(short)
        return {"Authorization": f"Bearer {self.tokens[short]}"}

    def call(self, short: str, method: str, url: str, **kwargs):
        return self.client.request(method, url, headers=self.as_(short), **kwargs)


_TAGS = itertools.count(secrets.randbelow(1 << 20) << 4)


def new_tag() -> str:
    """Six hex digits naming one test's users, units and codes in a database the session's tests share: counted, so
    never the same twice in a run (random ones met once in about a thousand rigs: a duplicate org unit code)."""
    return f"{next(_TAGS) % (1 << 24):06x}"


def make_rig(database_url: str = "", redis_url: str = "", *, app: FastAPI | None = None, **settings) -> DeskRig:
    """A rig on ``app`` (a desk from ``build_desk``), or on a new app with these settings."""
    tag = new_tag()
    if app is None:
        app = create_app(DeskSettings(database_url=database_url, redis_url=redis_url, **settings))
    client = TestClient(app, base_url="http://127.0.0.1")
    client.__enter__()  # runs the lifespan (migrations)
    rig = DeskRig(client, tag)
    with app.state.db.session() as session:
        province = OrgUnit(code=f"{tag}-prov", name="海南省12345热线平台", kind="province", level="province")
        session.add(province)
        session.flush()
        for short, name in (("water", "琼海市水务局"), ("housing", "琼海市住房和城乡建设局"),
                            ("power", "海南电网公司")):
            session.add(OrgUnit(code=f"{tag}-{short}", name=name, kind="member_unit", level="city",
                                parent_id=province.id, subplatform="469002"))
            rig.units[short] = f"{tag}-{short}"
        session.flush()
        for short, role, unit in (("agent", Role.AGENT, None), ("agent2", Role.AGENT, None),
                                  ("boss", Role.SUPERVISOR, None), ("admin", Role.ADMIN, None),
                                  ("gateway", Role.GATEWAY, None), ("water", Role.UNIT, rig.units["water"]),
                                  ("housing", Role.UNIT, rig.units["housing"])):
            create_user(session, rig.user(short), PASSWORD, role, display_name=short, unit_code=unit)
    return rig


def close_rig(rig: DeskRig) -> None:
    rig.client.__exit__(None, None, None)


@contextlib.asynccontextmanager
async def served(rig: DeskRig) -> AsyncIterator[str]:
    """The rig's app under uvicorn on a free loopback port, in the test's event loop; yields its base URL."""
    import uvicorn

    from tests.support.ports import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(rig.app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                await serving   # re-raises why it did not start
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@dataclass
class CenterDesk:
    """A center's desk as ``build_desk`` makes it (listener, wallboard, phone link), served on loopback."""

    rig: DeskRig
    process: DeskProcess
    url: str

    @property
    def listener(self):
        return self.process.listener


@contextlib.asynccontextmanager
async def center_desk(center, database_url: str, redis_url: str, *, serve: bool = True,
                      **settings) -> AsyncIterator[CenterDesk]:
    """The desk of the test's center, built like ``hotline run`` builds it, on the test's database and Redis.
    ``serve=False``: no HTTP server (requests go through the app in this loop); the listener still runs."""
    from tests.support.ports import free_port

    directory = recordings_dir(center.site)
    process = build_desk(center.site, center.plan, center.secrets, database_url=database_url, redis_url=redis_url,
                         recordings_host_dir=str(center.asterisk.host_path(directory)), **settings)
    rig = make_rig(app=process.app)
    try:
        if serve:
            async with process.serving(host="127.0.0.1", port=free_port()) as url:
                yield CenterDesk(rig, process, url)
        else:
            await process.start()
            try:
                yield CenterDesk(rig, process, "")
            finally:
                await process.stop()
    finally:
        close_rig(rig)


def principal(session, username: str) -> Principal:
    """The principal a test user acts as, for calling the services directly (as the API would for that user)."""
    user = session.scalar(select(User).where(User.username == username))
    unit = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
    return Principal.of(user, unit.code if unit else None)


@contextlib.asynccontextmanager
async def listening(rig: DeskRig, center, directory: str) -> AsyncIterator[CallListener]:
    """The desk's AMI listener on ``center`` (its own tracker and Redis clients, recordings in ``directory``) and its
    phone link, as ``hotline run`` gives them to the desk; stopped and closed on the way out."""
    from agent_desk.bootstrap import AMI_USER
    from agent_desk.calls.listener import AmiSettings
    from agent_desk.calls.tracker import CallTracker
    from agent_desk.telephony.link import TelephonyLink

    settings = rig.app.state.settings
    clients = [settings.async_redis(), settings.async_redis()]
    listener = CallListener(CallTracker(rig.app.state.db, clients[0], {}, {}, directory),
                            AmiSettings("127.0.0.1", center.site.ami_port, AMI_USER, center.secrets.get("ami")),
                            clients[1])
    await listener.start()
    rig.app.state.telephony = TelephonyLink(center.ami, center.plan, center.site)
    try:
        yield listener
    finally:
        await listener.stop()
        for client in clients:
            await client.aclose()
