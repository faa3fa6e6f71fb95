"""Speaker turns written to Redis exactly as the IVR side's media server writes them (hotline.contracts.transcript):
appended to the call's stream (capped, with the contract's TTL) and published on the transcript channel.

The contract says a turn is carried "as a Turn JSON": the stream entry holds it in one field, ``turn``."""

from __future__ import annotations

import redis

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
