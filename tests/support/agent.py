"""A stand-in agent for end-to-end tests: a queue member that answers, talks a moment and hangs up first.

The member is a Local channel into a context added at run time over AMI (DialplanExtensionAdd), so the
generated dialplan stays as production has it. It joins the queue for the scenario only (QueueAdd, then
QueueRemove), so no other scenario's caller is answered by it. A dialplan reload drops the context: each
use adds it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from hotline.numberplan import GENERAL_QUEUE
from tests.support.center import Center

CONTEXT = "hotline-test-agent"


@contextlib.asynccontextmanager
async def hanging_up_agent(center: Center, talk_seconds: int = 2, queue: str = GENERAL_QUEUE,
                           name: str = "agent") -> AsyncIterator[str]:
    """Yields the member's interface; the member answers, waits ``talk_seconds`` and hangs up."""
    steps = [("Answer", ""), ("Wait", str(talk_seconds)), ("Hangup", "")]
    for priority, (app, data) in enumerate(steps, 1):
        await center.ami.action({"Action": "DialplanExtensionAdd", "Context": CONTEXT, "Extension": name,
                                 "Priority": str(priority), "Application": app, "ApplicationData": data,
                                 "Replace": "yes"})
    interface = f"Local/{name}@{CONTEXT}/n"
    await center.ami.action({"Action": "QueueAdd", "Queue": queue, "Interface": interface,
                             "MemberName": f"test-{name}"})
    try:
        yield interface
    finally:
        await center.ami.action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})
