"""Least privilege against a real redis-server with the center's ACL file (hotline.access): the IVR's user and the
desk's each reach only their own keys and channels, and the names both sides use fall inside them."""

from __future__ import annotations

import fnmatch

import pytest
import redis
from redis.exceptions import NoPermissionError

from agent_desk.calls import pop, tracker
from agent_desk.calls import transcript as relay
from agent_desk.supervision import asr_pool, wallboard, warnings
from hotline import access
from hotline.contracts import asr, prefill, survey, ticket_status
from ivr import flow
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = RedisServer.start(tmp_path_factory.mktemp("acl"))
    yield started
    started.stop()


def client(server: RedisServer, user: str) -> redis.Redis:
    return redis.Redis.from_url(server.user_url(user), decode_responses=True)


def first_reply(user: redis.Redis, channel: str) -> str:
    """What SUBSCRIBE ``channel`` answers: "subscribe", or "NOPERM" when the ACL refuses it."""
    sub = user.pubsub()
    try:
        sub.subscribe(channel)
        message = sub.get_message(timeout=3)
        return message["type"] if message else "nothing"
    except NoPermissionError:
        return "NOPERM"
    finally:
        sub.close()


def test_the_ivr_user_cannot_reach_the_desks_keys_and_channels(server):
    ivr = client(server, "ivr")
    assert first_reply(ivr, pop.channel_for(1)) == "NOPERM"
    for read in (lambda: ivr.hgetall(tracker.LIVE_CALL.format(call_id="1")), lambda: ivr.smembers(tracker.LIVE_CALLS),
                 lambda: ivr.get(wallboard.SNAPSHOT_KEY), lambda: ivr.hgetall(warnings.ACTIVE)):
        with pytest.raises(NoPermissionError):
            read()
    with pytest.raises(NoPermissionError):   # ticket progress is the desk's to write
        ivr.hset(ticket_status.key("20261122000123"), mapping={"state": "closed"})
    with pytest.raises(NoPermissionError):
        ivr.publish(warnings.CHANNEL, "{}")
    for dangerous in (lambda: ivr.flushall(), lambda: ivr.config_get("*"), lambda: ivr.keys("*")):
        with pytest.raises(NoPermissionError):
            dangerous()


def test_the_ivr_user_does_what_the_ivr_needs(server):
    ivr, admin = client(server, "ivr"), redis.Redis.from_url(server.authenticated_url, decode_responses=True)
    admin.hset(ticket_status.key("20261122000123"), mapping={"v": "1", "state": "closed"})
    with ivr.pipeline(transaction=True) as pipe:   # ivr.prefill_store
        pipe.set(prefill.key("c1"), "{}", ex=60)
        pipe.publish(prefill.CHANNEL, "{}")
        pipe.execute()
    assert ivr.get(prefill.key("c1")) == "{}"
    ivr.set(flow.CITY_MEMORY_KEY.format(caller="13800000000"), "0898", ex=60)
    assert ivr.get(flow.CITY_MEMORY_KEY.format(caller="13800000000")) == "0898"
    ivr.xadd(survey.STREAM, {"v": "1"}, maxlen=1000, approximate=True)
    ivr.xtrim(survey.STREAM, minid="0-1", approximate=True)
    assert ivr.hgetall(ticket_status.key("20261122000123"))["state"] == "closed"


def test_the_desk_user_does_what_the_desk_needs_and_no_more(server):
    desk = client(server, "desk")
    for channel in (pop.channel_for(7), prefill.CHANNEL, warnings.CHANNEL):
        assert first_reply(desk, channel) == "subscribe"
    desk.publish(pop.channel_for(7), "{}")
    desk.hset(tracker.LIVE_CALL.format(call_id="1"), mapping={"a": "1"})
    desk.sadd(tracker.LIVE_CALLS, "1")
    desk.set(wallboard.SNAPSHOT_KEY, "{}")
    desk.hset(warnings.ACTIVE, "x", "{}")
    desk.hset(ticket_status.key("20261122000123"), mapping={"state": "accepted"})
    desk.get(prefill.key("c1"))
    try:
        desk.xgroup_create(survey.STREAM, survey.DESK_GROUP, id="0", mkstream=True)
    except redis.ResponseError:
        pass   # BUSYGROUP
    desk.xreadgroup(survey.DESK_GROUP, "listener", {survey.STREAM: ">"}, count=10)
    desk.xadd(survey.REJECTED_STREAM, {"v": "0"}, maxlen=10)
    assert asr_pool.read(desk)["state"] in asr_pool.STATES   # the wallboard reads the ASR pool, keeps its readings
    with pytest.raises(NoPermissionError):   # the pool's counters are the workers' to write
        desk.hincrby(asr.STATS_KEY, "shed", 1)
    with pytest.raises(NoPermissionError):   # the prefill is the IVR's to write
        desk.set(prefill.key("c1"), "forged")
    with pytest.raises(NoPermissionError):   # callers' memory is the IVR's
        desk.get(flow.CITY_MEMORY_KEY.format(caller="13800000000"))
    for dangerous in (lambda: desk.flushall(), lambda: desk.config_get("*"), lambda: desk.keys("*")):
        with pytest.raises(NoPermissionError):
            dangerous()


def test_each_sides_names_fall_inside_its_acl():
    def inside(name: str, patterns: list[str], prefix: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p.split(prefix, 1)[1]) for p in patterns if prefix in p)

    desk_keys = [tracker.LIVE_CALL.format(call_id="x"), tracker.LIVE_CALLS, tracker.LIVE_AGENT.format(agent="8001"),
                 wallboard.SNAPSHOT_KEY, warnings.ACTIVE, warnings.ACKED, survey.STREAM, survey.REJECTED_STREAM,
                 ticket_status.key("1"), prefill.key("x"), relay.LIVE_SPY.format(call_id="x"),
                 relay.LIVE_SPY_LEG.format(channel_id="spy-x"), asr_pool.SAMPLES_KEY, asr.STATS_KEY, asr.WORKERS_KEY]
    assert all(inside(k, list(access.DESK.keys), "~") for k in desk_keys), access.DESK.keys
    assert all(inside(c, list(access.DESK.channels), "&")
               for c in (pop.channel_for(1), warnings.CHANNEL, prefill.CHANNEL))
    ivr_keys = [prefill.key("x"), flow.CITY_MEMORY_KEY.format(caller="1"), survey.STREAM, ticket_status.key("1")]
    assert all(inside(k, list(access.IVR.keys), "~") for k in ivr_keys), access.IVR.keys
    assert inside(prefill.CHANNEL, list(access.IVR.channels), "&")


async def test_the_survey_stream_is_trimmed_by_age_and_keeps_no_caller(server):
    import redis.asyncio as aioredis

    from hotline.contracts.survey import SurveyEntry
    from ivr.survey import SurveyStore

    admin = redis.Redis.from_url(server.authenticated_url, decode_responses=True)
    admin.delete(survey.STREAM)
    admin.xadd(survey.STREAM, {"v": "1", "call_id": "ancient"}, id="1000-0")   # 1970: past any retention
    ivr = aioredis.from_url(server.user_url("ivr"))
    try:
        store = SurveyStore(ivr, tmp_spool := __import__("pathlib").Path("/nonexistent"), maxlen=1000, max_age_days=7)
        assert await store.record(SurveyEntry(call_id="c9", caller="13812345678", result="satisfied")) == "redis"
    finally:
        await ivr.aclose()
    entries = admin.xrange(survey.STREAM)
    assert [e[1]["call_id"] for e in entries] == ["c9"] and entries[0][1]["caller"] == "", (entries, tmp_spool)


async def test_the_desk_user_reads_the_transcripts_back_and_tracks_who_listens(server, new_database):
    """The transcript relay's own Redis work under the desk's ACL user: a turn the IVR's user wrote (stream and
    channel) is read back and stored; who listens is the desk's own live state; the stream stays the IVR's."""
    import redis.asyncio as aioredis

    from agent_desk.calls import transcript as relay_module
    from agent_desk.db.session import Database
    from hotline.contracts import transcript
    from tests.support import transcripts

    ivr, desk = client(server, "ivr"), client(server, "desk")
    assert first_reply(desk, transcript.CHANNEL) == "subscribe"
    transcripts.append(ivr, transcript.Turn(call_id="acl.1", speaker="citizen", seq=0, text="停水了"))
    db = Database(new_database("sqlite"))
    async_desk = aioredis.from_url(server.user_url("desk"), decode_responses=True)
    try:
        relay = relay_module.TranscriptRelay(db, async_desk)
        assert await relay.sync_all() == 1
        relay_module.register_spy(desk, "acl.1", 7, "spy-acl")
        assert await relay_module.listeners_of(async_desk, "acl.1") == [7]
        assert await relay_module.end_spy(async_desk, "spy-acl") is True
    finally:
        await async_desk.aclose()
        db.dispose()
    with pytest.raises(NoPermissionError):   # what was said is the IVR's to write
        desk.xadd(transcript.key("acl.1"), {"turn": "{}"})
