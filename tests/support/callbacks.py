"""回拨 end to end, from the desk's side: a missed-call task made as the tracker makes it, the agent's click over the
API, and the call's row as the dialer stores it (tests/e2e/test_callbacks.py, test_outbound_transcript.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import select

from agent_desk.callbacks import store
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.db import models as m
from agent_desk.telephony import recordings_dir
from tests.support.agents import softphones, wait_registered
from tests.support.center import Center
from tests.support.desk import DeskRig, close_rig, listening, make_rig
from tests.support.events import poll


@contextlib.asynccontextmanager
async def callback_desk(center: Center, database_url: str, redis_url: str, users: tuple[str, ...],
                        policy: CallbackPolicy) -> AsyncIterator[DeskRig]:
    """The real desk app with its listener on the center's AMI and its 回拨 dialer; each of ``users`` on one of the
    center's softphones (``rig.phones``), registered before the desk is handed out."""
    directory = recordings_dir(center.site)
    rig = make_rig(database_url, redis_url, recordings_dir=directory,
                   recordings_host_dir=str(center.asterisk.host_path(directory)), callbacks=policy)
    phones = softphones(center)
    with rig.app.state.db.session() as session:
        for short, extension in zip(users, phones, strict=False):
            session.scalar(select(m.User).where(m.User.username == rig.user(short))).extension = extension
    rig.phones = dict(zip(users, phones, strict=False))
    try:
        async with listening(rig, center, directory):
            for extension in rig.phones.values():   # a phone that is not registered yet could not ring at all
                assert (await wait_registered(center, extension)).registered, f"softphone {extension} not registered"
            try:
                yield rig
            finally:
                dialer = getattr(rig.app.state, "callback_dialer", None)
                if dialer is not None:
                    await dialer.close()
    finally:
        close_rig(rig)


def api(desk: DeskRig) -> httpx.AsyncClient:
    """HTTP to the app in this event loop (the AMI link and the dialer live here, as in ``hotline run``)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=desk.app), base_url="http://127.0.0.1", timeout=30)


def missed_task(desk: DeskRig, caller: str, call_id: str) -> int:
    """A task as the tracker makes it from a missed call (for scenarios about calling out, not about intake)."""
    now = dt.datetime.now(dt.UTC)
    with desk.app.state.db.session() as session:
        call = m.Call(call_id=call_id, caller=caller, line="12345", started_at=now, ended_at=now, outcome="ivr_only")
        session.add(call)
        session.flush()
        task = store.missed_call(session, call, now)
        assert task is not None
        return task.id


def call_row(desk: DeskRig, out_id: str) -> m.CallbackCall | None:
    with desk.app.state.db.session() as session:
        row = store.call_by_out_id(session, out_id)
        if row is not None:
            session.expunge(row)
        return row


async def place(desk: DeskRig, user: str, task_id: int) -> str:
    """The agent clicks 回拨 on the task; the call's out_id."""
    async with api(desk) as http:
        response = await http.post(f"/api/v1/callbacks/{task_id}/call", headers=desk.as_(user))
    assert response.status_code == 202, response.text
    return response.json()["out_id"]


async def ended(desk: DeskRig, out_id: str, timeout: float = 40) -> m.CallbackCall:
    return await poll(lambda: (row := call_row(desk, out_id)) is not None and row.ended_at is not None and row,
                      timeout, f"回拨 {out_id} to end")
