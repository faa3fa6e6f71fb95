"""Stand-in agents for a live center (``tests/support/live_center.py``): queue members that answer, talk a
moment and hang up, so a citizen's call reaches a human the way the queue hands it to one (the queue's ring,
the bridge, the queue's MixMonitor recording it), without a SIP phone.

The member is a Local channel into a context added at run time over AMI (DialplanExtensionAdd; the generated
dialplan stays as production has it) and is a member of the general queue only inside the block.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from hotline.ami import AmiClient, EventBuffer
from hotline.numberplan import GENERAL_QUEUE

CONTEXT = "hotline-test-agent"


@contextlib.asynccontextmanager
async def stand_in_agent(ami: AmiClient, name: str, talk_seconds: float = 2.0,
                         queue: str = GENERAL_QUEUE, *, speaking: bool = False) -> AsyncIterator[str]:
    """Yields the member's interface; each call it takes is answered, held ``talk_seconds`` and hung up.
    ``speaking``: the agent sends sound all along (a tone), as a real phone sends its audio: the call's recording
    grows with every second of the conversation."""
    steps = [("Answer", ""), *([("Playtones", "440")] if speaking else []), ("Wait", f"{talk_seconds:g}"),
             ("Hangup", "")]
    for priority, (app, data) in enumerate(steps, 1):
        await ami.action({"Action": "DialplanExtensionAdd", "Context": CONTEXT, "Extension": name,
                          "Priority": str(priority), "Application": app, "ApplicationData": data,
                          "Replace": "yes"})
    interface = f"Local/{name}@{CONTEXT}/n"
    await ami.action({"Action": "QueueAdd", "Queue": queue, "Interface": interface, "MemberName": f"stand-in-{name}"})
    try:
        yield interface
    finally:
        with contextlib.suppress(Exception):   # Asterisk restarted meanwhile: the member went with it
            await ami.action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})


def answered(events: EventBuffer, call_id: str) -> bool:
    """The call was bridged to an agent (the queue's AgentConnect): it reached a human."""
    return any(e.name == "AgentConnect" and e.get("Linkedid") == call_id for e in events.events)
