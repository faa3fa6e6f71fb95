"""Speaker turns written to Redis exactly as the IVR side's media server writes them (hotline.contracts.transcript):
appended to the call's stream (capped, with the contract's TTL) and published on the transcript channel.

The contract says a turn is carried "as a Turn JSON": the stream entry holds it in one field, ``turn``."""

from __future__ import annotations

import asyncio
import sys

import redis
import redis.asyncio as aioredis
from sqlalchemy import select

from agent_desk.db import models as m

from hotline.contracts import transcript as contract
from hotline.contracts.transcript import Turn


def append(client: redis.Redis, turn: Turn, *, publish: bool = True) -> None:
    """What the media server does with one turn. ``publish=False``: only the stream (said while the desk was down,
    or its subscription was lost)."""
    key = contract.key(turn.call_id)
    with client.pipeline(transaction=False) as pipe:
        pipe.xadd(key, {"turn": turn.encode()}, maxlen=contract.MAXLEN, approximate=True)
        pipe.expire(key, contract.TTL_SECONDS)
        if publish:
            pipe.publish(contract.CHANNEL, turn.encode())
        pipe.execute()


def publish_raw(client: redis.Redis, payload: str) -> None:
    """A payload as some other writer might publish it (another contract version, garbage)."""
    client.publish(contract.CHANNEL, payload)


async def stop(running: asyncio.Task, *clients: aioredis.Redis, timeout: float = 20.0) -> None:
    """Stop a desk's TranscriptRelay task (as the listener's ``stop`` does) and close its Redis clients.

    A relay that does not end within ``timeout`` fails the test with every task's stack printed, instead of the
    whole run waiting for pytest's timeout with nothing to show where it hung."""
    running.cancel()
    done, _ = await asyncio.wait({running}, timeout=timeout)
    if not done:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        raise AssertionError(f"the transcript relay did not stop within {timeout:.0f} s (task stacks above)")
    for client in clients:
        await asyncio.wait_for(client.aclose(), timeout)


async def until(check, seconds: float = 20.0) -> None:
    """``check()`` until true, every 50 ms; the test fails after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached within {seconds} s: {check}")


def audits(rig, object_id: str) -> list[tuple[str, str, str]]:
    """The audit trail of one object: (username, action, reason) in order."""
    with rig.app.state.db.session() as session:
        rows = session.execute(select(m.AuditEntry.username, m.AuditEntry.action, m.AuditEntry.reason)
                               .where(m.AuditEntry.object_id == object_id).order_by(m.AuditEntry.id)).all()
    return [tuple(r) for r in rows]
