"""Queue-first intake on the real Asterisk (issue 12): the caller joins the queue right after the greeting,
describes the matter while waiting, and both sides of the conversation are transcribed live."""

from __future__ import annotations

import asyncio
import time
import wave

import pytest

from hotline.contracts.asr import PhraseJob, PhraseResult
from hotline.contracts.transcript import key as transcript_key
from hotline.site import Intake
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.agents import hang_up_everything
from tests.support.caller import Citizen
from tests.support.center import Center
from tests.support.ivr import IvrRig, ivr_rig

pytestmark = pytest.mark.asterisk

SAMPLE = "BAC009S0150W0015"      # 上海市第一食品商店
GREETING_MARGIN = 2.0            # seconds beyond the greeting's own length before the caller must be queued


class InProcessTranscriber:   # TEMPORARY until the ASR pool lands
    reply_to = "local"

    def __init__(self, engine):
        self.engine = engine

    async def submit(self, job: PhraseJob, audio: bytes):
        fut = asyncio.get_running_loop().create_future()

        async def run():
            stream = self.engine.open()
            await stream.feed(audio)
            t = await stream.finish()
            fut.set_result(PhraseResult(job_id=job.job_id, call_id=job.call_id, speaker=job.speaker, seq=job.seq,
                                        status="ok", text=t.text, engine=t.engine))
        asyncio.create_task(run())
        return fut


@pytest.fixture(scope="module")
async def ivr(center: Center, tmp_path_factory) -> IvrRig:
    whisper = WhisperEngine(assemble_model(tmp_path_factory.mktemp("models") / "whisper-base"))
    async with ivr_rig(center, whisper, tmp_path_factory.mktemp("qf"), samples=(SAMPLE,), intake=Intake(),
                       asr=InProcessTranscriber(whisper)) as rig:
        yield rig


def seconds_of(path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


async def test_smoke(ivr: IvrRig):
    center = ivr.center
    greeting = seconds_of(center.paths.sounds / "line-12345-greeting.wav")
    started = time.monotonic()

    async def citizen(c: Citizen) -> None:
        await c.until_queued()
        await c.quiet(1)
        await c.say(SAMPLE)
        await c.quiet(2)
        await asyncio.sleep(60)

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550111")
    join = await ivr.queued(cid)
    print("joined after", join.received - started, "greeting", greeting)
    call_id = ivr.call_id(cid)
    await asyncio.sleep(15)
    entries = await ivr.redis.xrange(transcript_key(call_id))
    print("turns", entries)
    print("prefill", await ivr.redis.get(f"hotline:prefill:{call_id}"))
    print(ivr.trail(cid))
    await hang_up_everything(center)
