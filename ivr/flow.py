"""The IVR of the 12345 flow: menu, city/county, the caller's description with live transcription.

Runs over the small ``Channel`` interface, so FastAGI and classic AGI share it. Every wait is bounded:
a timeout or a wrong key re-prompts a fixed number of times and then hands the caller to an agent; a
caller who hangs up keeps whatever was captured; a missing speech engine or Redis only loses prefill.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import yaml
from redis.asyncio import Redis
from pydantic import BaseModel, ConfigDict, Field

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE, NumberPlan
from ivr.capture import CaptureLimits, CaptureResult, CaptureSession
from ivr.channel import Channel, ChannelHangup, still_up
from ivr.entry import CallFacts
from ivr.prefill import Prefill, city_from_speech, emergency_of, enrich
from ivr.listen import ListenSession, Transcriber
from ivr.prefill_store import PrefillStore
from ivr.revisit import RevisitStore
from ivr.transcript_store import TranscriptStore
from hotline.site import Intake
from ivr.progress import ProgressConfig, run_progress
from ivr.speech import SpeechEngine, SpeechStream
from ivr.survey import SurveyConfig, SurveyStore
from hotline.privacy import mask_phone

log = logging.getLogger(__name__)

FLOWS = Path(__file__).with_name("flows.yaml")
CITY_MEMORY_KEY = "hotline:caller:{caller}:subplatform"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MenuOption(_Model):
    label: str
    appeal_type: Literal["consultation", "complaint", "help", "suggestion", "other"] | None = None
    queue: str | None = None
    action: Literal["agent", "emergency", "progress"] | None = None


class MenuConfig(_Model):
    prompt: str
    timeout_ms: int = Field(ge=1000, le=30000)
    attempts: int = Field(ge=1, le=5)
    options: dict[str, MenuOption]


class CityConfig(_Model):
    prompt: str
    list_prompt: str
    timeout_ms: int = Field(ge=1000, le=30000)
    attempts: int = Field(ge=1, le=5)
    speech_seconds: float = Field(ge=1, le=15)
    remember_days: int = Field(ge=0, le=3650)


class DescribeConfig(_Model):
    prompt: str
    beep: str
    max_seconds: float = Field(ge=5, le=300)
    end_silence: float = Field(ge=0.5, le=10)
    no_speech_seconds: float = Field(ge=2, le=60)
    emergency_wait: float = Field(default=3.0, ge=0, le=10)


class EmergencyConfig(_Model):
    prompt: str
    timeout_ms: int
    options: dict[str, str]
    default: str


class FlowConfig(_Model):
    menu: MenuConfig
    city: CityConfig
    describe: DescribeConfig
    emergency: EmergencyConfig
    progress: ProgressConfig
    survey: SurveyConfig


def load_flows(path: Path = FLOWS) -> FlowConfig:
    return FlowConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass
class IvrServices:
    plan: NumberPlan
    flows: FlowConfig
    store: PrefillStore
    speech: SpeechEngine | None = None
    audiosocket: AudioSocketLike | None = None
    memory: Redis | None = None             # the caller's remembered city
    tickets: Redis | None = None            # the desk's ticket statuses (read only)
    surveys: SurveyStore | None = None      # where callback survey results go
    revisits: RevisitStore | None = None    # where 智能回访 results go
    recordings: Path = Path("var/recordings")
    intake: Intake = field(default_factory=Intake)
    asr: Transcriber | None = None          # the ASR pool: the live transcript's phrases
    transcripts: TranscriptStore = field(default_factory=lambda: TranscriptStore(None))
    background: set[asyncio.Task[Prefill]] = field(default_factory=set)

    @property
    def live_transcript(self) -> bool:
        """Listening legs are worth starting: the site wants them and the media server and the pool exist."""
        return self.intake.live_transcript and self.audiosocket is not None and self.asr is not None


class AudioSocketLike(Protocol):  # the part of agi_scripts.audiosocket.AudioSocketServer the flow uses
    @property
    def address(self) -> str: ...

    def expect(self, session: CaptureSession | ListenSession) -> str: ...

    def forget(self, key: str) -> None: ...


@dataclass
class IvrOutcome:
    menu_choice: str = ""
    appeal_type: str = ""
    queue: str = GENERAL_QUEUE
    subplatform: str = ""
    emergency: str = ""
    capture: CaptureResult | None = None
    prefill: Prefill | None = None
    finalizing: asyncio.Task[Prefill] | None = None


async def run_ivr(channel: Channel, services: IvrServices, facts: CallFacts, sounds: str) -> IvrOutcome:
    """The whole IVR for one call. Sets the channel variables the dialplan acts on before returning."""
    flows = services.flows
    outcome = IvrOutcome(queue=facts.queue, subplatform=facts.subplatform)
    prefill = Prefill(call_id=facts.call_id, line=facts.line, caller=facts.caller, subplatform=facts.subplatform)
    outcome.prefill = prefill
    try:
        choice, option = await _menu(channel, flows.menu, sounds)
        outcome.menu_choice = choice
        prefill.menu_choice = option.label if option else ""
        if option is None or option.action == "agent":
            return outcome
        if option.action == "emergency":
            outcome.emergency = await emergency_target(channel, flows.emergency, sounds)
            return outcome
        if option.queue:
            outcome.queue = option.queue if option.queue in services.plan.queues else GENERAL_QUEUE
            return outcome
        if option.action == "progress":
            await run_progress(channel, flows.progress, services.tickets, sounds, facts.call_id)
            return outcome  # after the query (or when it could not be done) an agent answers
        outcome.appeal_type = prefill.appeal_type = option.appeal_type or ""
        if not outcome.subplatform:
            outcome.subplatform = await _city(channel, services, facts, sounds)
            prefill.subplatform = outcome.subplatform
        await _describe(channel, services, facts, sounds, outcome)
        return outcome
    finally:
        await _apply(channel, outcome)


async def _apply(channel: Channel, outcome: IvrOutcome) -> None:
    """Tell the dialplan where the call goes. Best effort: the caller may already be gone."""
    try:
        await channel.set_variable(f"__{v.QUEUE}", outcome.queue)
        await channel.set_variable(f"__{v.SUBPLATFORM}", outcome.subplatform)
        if outcome.appeal_type:
            await channel.set_variable(f"__{v.APPEAL_TYPE}", outcome.appeal_type)
        if outcome.emergency:
            await channel.set_variable(v.EMERGENCY, outcome.emergency)
    except ChannelHangup:
        pass


async def _menu(channel: Channel, menu: MenuConfig, sounds: str) -> tuple[str, MenuOption | None]:
    for attempt in range(menu.attempts):
        digits = await channel.collect_digits(f"{sounds}/{menu.prompt}", 1, menu.timeout_ms)
        if digits in menu.options:
            return digits, menu.options[digits]
        if attempt + 1 < menu.attempts:
            await channel.play(f"{sounds}/ivr-invalid")
    return "", None


async def emergency_target(channel: Channel, cfg: EmergencyConfig, sounds: str) -> str:
    digits = await channel.collect_digits(f"{sounds}/{cfg.prompt}", 1, cfg.timeout_ms)
    target = cfg.options.get(digits, cfg.default)
    await channel.play(f"{sounds}/ivr-emergency-transfer")
    return target


async def remembered_city(services: IvrServices, caller: str) -> str:
    if services.memory is None or not caller:
        return ""
    try:
        value = await services.memory.get(CITY_MEMORY_KEY.format(caller=caller))
    except Exception as exc:  # Redis down: ask instead
        log.warning("city memory unavailable: %s", exc)
        return ""
    code = value.decode() if isinstance(value, bytes) else (value or "")
    return code if services.plan.subplatform(code) else ""


async def _remember_city(services: IvrServices, caller: str, code: str) -> None:
    if services.memory is None or not caller or not code:
        return
    try:
        await services.memory.set(CITY_MEMORY_KEY.format(caller=caller), code,
                                  ex=services.flows.city.remember_days * 86400)
    except Exception as exc:
        log.warning("could not remember the city of %s: %s", mask_phone(caller), exc)


def city_by_number(plan: NumberPlan, digits: str) -> str:
    """Two-digit city number: the sub-platform's position in the plan (01 = the first)."""
    if len(digits) == 2 and digits.isdigit() and 1 <= int(digits) <= len(plan.subplatforms):
        return plan.subplatforms[int(digits) - 1].code
    return ""


async def _city(channel: Channel, services: IvrServices, facts: CallFacts, sounds: str) -> str:
    remembered = await remembered_city(services, facts.caller)
    if remembered:
        return remembered
    cfg = services.flows.city
    for _attempt in range(cfg.attempts):
        first = await channel.play(f"{sounds}/{cfg.prompt}", "0123456789*")
        if first == "*":
            await channel.play(f"{sounds}/{cfg.list_prompt}")
            continue
        code = ""
        if first:
            rest = await channel.collect_digits("silence/1", 1, cfg.timeout_ms)
            code = city_by_number(services.plan, first + rest)
        elif services.speech is not None and services.audiosocket is not None:
            limits = CaptureLimits(max_seconds=cfg.speech_seconds, end_silence=0.8,
                                   no_speech_seconds=cfg.speech_seconds, end_digits="#")
            stream = services.speech.open(grammar=[sp.name for sp in services.plan.subplatforms])
            result, hung_up = await _capture(channel, services, stream, limits,
                                             services.recordings / f"{facts.call_id}-city.wav")
            if hung_up:
                raise ChannelHangup("caller hung up while naming the city")
            if result is not None and result.heard_speech:
                transcript = await stream.finish()
                code = city_from_speech(transcript.text)
                log.info("call %s said city %r → %s", facts.call_id, transcript.text, code or "?")
        else:
            digits = await channel.collect_digits("silence/1", 2, cfg.timeout_ms)
            code = city_by_number(services.plan, digits)
        if code:
            await _remember_city(services, facts.caller, code)
            return code
        await channel.play(f"{sounds}/ivr-invalid")
    await channel.play(f"{sounds}/ivr-city-unknown")
    return ""


async def _capture(channel: Channel, services: IvrServices, stream: SpeechStream | None, limits: CaptureLimits,
                   recording: Path, on_partial: Callable[[str], Awaitable[None]] | None = None,
                   ) -> tuple[CaptureResult | None, bool]:
    """Run AudioSocket() for one utterance. Returns (capture or None if none ran, caller hung up)."""
    assert services.audiosocket is not None
    session = CaptureSession(recording, stream, limits, on_partial)
    key = services.audiosocket.expect(session)
    hung_up = False
    try:
        await channel.exec("AudioSocket", f"{key},{services.audiosocket.address}")
    except ChannelHangup:
        # AudioSocket() also answers -1 when its connection fails or times out: only a caller who
        # is really gone counts as a hang-up.
        hung_up = not await still_up(channel)
    finally:
        services.audiosocket.forget(key)
    if not session.result.done():
        try:  # the audio connection ends with the call: let the session close its recording
            await asyncio.wait_for(asyncio.shield(session.result), 3)
        except TimeoutError:
            log.warning("AudioSocket ended without a capture (recording %s)", recording.name)
            return None, hung_up
    return session.result.result(), hung_up


async def _describe(channel: Channel, services: IvrServices, facts: CallFacts, sounds: str,
                    outcome: IvrOutcome) -> None:
    prefill = outcome.prefill
    assert prefill is not None
    if services.audiosocket is None:
        return
    cfg = services.flows.describe
    await channel.play(f"{sounds}/{cfg.prompt}")
    await channel.play(cfg.beep)
    stream = services.speech.open() if services.speech is not None else None
    prefill.engine = services.speech.name if services.speech is not None else ""
    if stream is None:
        prefill.error = "speech engine unavailable: recording kept, no transcript"

    async def on_partial(text: str) -> None:
        prefill.transcript = text
        await services.store.save(prefill, publish_every=0.5)

    recording = services.recordings / f"{facts.call_id}.wav"
    prefill.recording = str(recording)
    await services.store.save(prefill)
    limits = CaptureLimits(max_seconds=cfg.max_seconds, end_silence=cfg.end_silence,
                           no_speech_seconds=cfg.no_speech_seconds)
    outcome.capture, hung_up = await _capture(channel, services, stream, limits, recording, on_partial)
    # Finish the transcript in the background: the call goes on to the queue now.
    task = asyncio.create_task(finalize(services, prefill, stream, outcome.capture, hung_up))
    services.background.add(task)
    task.add_done_callback(services.background.discard)
    outcome.finalizing = task
    if hung_up:
        raise ChannelHangup("caller hung up during the description")
    # Emergency words: hand over rather than queue. The last phrase is often still being transcribed
    # when the caller stops, so the final transcript is awaited a bounded time before deciding.
    emergency = emergency_of(stream.partial) if stream is not None else ""
    if stream is not None and not emergency and cfg.emergency_wait > 0:
        try:
            emergency = (await asyncio.wait_for(asyncio.shield(task), cfg.emergency_wait)).emergency
        except TimeoutError:
            log.info("call %s: transcript not final after %.1f s; queueing", facts.call_id, cfg.emergency_wait)
    if emergency:
        outcome.emergency = emergency
        await channel.play(f"{sounds}/ivr-emergency-transfer")


async def finalize(services: IvrServices, prefill: Prefill, stream: SpeechStream | None, capture: CaptureResult | None,
                   hung_up: bool) -> Prefill:
    """Final transcript → enriched prefill → Redis (or the spool). Never raises: it runs unattended."""
    try:
        if capture is not None:
            prefill.audio_seconds = round(capture.audio_seconds, 2)
        if stream is None:
            prefill.status = "failed"
        else:
            prefill.status = "transcribing"
            await services.store.save(prefill)
            transcript = await stream.finish()
            enrich(prefill, transcript.text, dt.date.today())
            prefill.status = "final" if transcript.text else "no_speech"
        if hung_up:
            prefill.error = (prefill.error + "; " if prefill.error else "") + "caller hung up during the description"
    except Exception as exc:  # a failing engine loses the transcript, never the call or the recording
        log.exception("prefill %s failed", prefill.call_id)
        prefill.status = "failed"
        prefill.error = f"{type(exc).__name__}: {exc}"
    try:
        await services.store.save(prefill)
    except Exception:
        log.exception("prefill %s could not be stored", prefill.call_id)
    return prefill

