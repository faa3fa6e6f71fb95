"""Wires the AGI side of a center: the IVR's services, and the FastAGI + AudioSocket servers around them.

``ivr_services`` is the one place the IVR's services are assembled, for the FastAGI server (one process for
every call) and for classic AGI (``agi_scripts.classic``, one process per call): the same flows, the same
prefill, survey and 回访 stores, and one spool under the state home, drained by whoever runs next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from agi_scripts.audiosocket import AudioSocketServer
from agi_scripts.routes import Services
from agi_scripts.server import AgiServer
from hotline import access, housekeeping
from hotline.numberplan import NumberPlan
from hotline.paths import Paths
from hotline.secrets import SecretStore
from hotline.site import Intake, Retention, SiteConfig
from ivr.asr.client import AsrClient
from ivr.flow import IvrServices, load_flows
from ivr.listen import Transcriber
from ivr.prefill_store import PrefillStore
from ivr.revisit import RevisitStore
from ivr.speech import SpeechEngine
from ivr.speech.loader import load_engine
from ivr.survey import SurveyStore
from ivr.transcript_store import TranscriptStore

log = logging.getLogger(__name__)


def redis_client(url: str, password: str | None, username: str | None = access.REDIS_IVR_USER) -> aioredis.Redis:
    """The IVR's Redis connection, as the ``ivr`` ACL user (``hotline.access``); a URL's own credentials win."""
    return aioredis.from_url(url, username=username, password=password, socket_timeout=2, socket_connect_timeout=2)


def ivr_services(plan: NumberPlan, home: Path, redis: aioredis.Redis | None, *, speech: SpeechEngine | None,
                 audiosocket: AudioSocketServer | None, retention: Retention = Retention(),
                 intake: Intake = Intake(), asr: Transcriber | None = None) -> IvrServices:
    """The IVR's services; everything it keeps on disk lives under ``home`` (spools, the callers' recordings)."""
    return IvrServices(
        plan=plan, flows=load_flows(), store=PrefillStore(redis, home / "spool" / "prefill"),
        speech=speech, audiosocket=audiosocket, memory=redis, recordings=home / "recordings" / "ivr",
        intake=intake, asr=asr, transcripts=TranscriptStore(redis),
        tickets=redis, surveys=SurveyStore(redis, home / "spool" / "surveys", maxlen=retention.survey_stream_maxlen,
                                           max_age_days=retention.survey_stream_days),
        revisits=RevisitStore(redis, home / "spool" / "revisits"),
    )


def uses_menu(site: SiteConfig) -> bool:
    """Whether any line takes calls through the menu flow (its description needs a speech engine here)."""
    return site.intake.mode == "menu" or "menu" in site.intake.lines.values()


def media_server_id(site: SiteConfig) -> str:
    """This media server's name on the ASR pool (its reply stream): unique per process, readable in Redis."""
    return f"{site.name}-{socket.gethostname()}-{os.getpid()}"


def retention_rules(home: Path, retention: Retention) -> list[tuple[Path, int]]:
    """What the IVR side keeps on disk and for how long (site.yaml ``retention``)."""
    return [(home / "recordings" / "ivr", retention.ivr_recordings_days), (home / "spool", retention.spool_days)]


async def drain_spools(ivr: IvrServices) -> int:
    """Move what was spooled while Redis was down into Redis; returns how many items moved."""
    moved = await ivr.store.drain_spool()
    for store in (ivr.surveys, ivr.revisits):
        if store is not None:
            moved += await store.drain_spool()
    return moved


@dataclass
class AgiApp:
    agi: AgiServer
    audiosocket: AudioSocketServer
    redis: aioredis.Redis
    ivr: IvrServices
    asr: AsrClient | None = None   # the live transcript's connection to the ASR pool
    drain_every: float = 30.0   # seconds between attempts to move spooled prefills, surveys and 回访 results into Redis
    report_every: float = 5.0   # seconds between the log lines saying how many calls this process served
    retention: list[tuple[Path, int]] = field(default_factory=list)   # (directory, days) swept every hour
    _drainer: asyncio.Task[None] | None = field(default=None, repr=False)
    _housekeeping: asyncio.Task[None] | None = field(default=None, repr=False)
    _reporter: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, paths: Paths, site: SiteConfig, plan: NumberPlan, secrets: SecretStore,
              speech: SpeechEngine | None = None, load_speech: bool = True, worker: int | None = None) -> AgiApp:
        """``worker``: this process is media worker ``worker`` of several (``hotline run --media N``): the FastAGI
        port is shared with the others (SO_REUSEPORT), and its AudioSocket server listens on a port of its own.

        AudioSocket is not shared: the AGI route that starts AudioSocket() registers the session in its own
        process, so the connection Asterisk makes for it must reach that process, which a port spread by the kernel
        would not guarantee. Worker 0 keeps the site's ``audiosocket_port``; the others take a free port from
        the kernel. Each route hands Asterisk its own process's address, so nothing else needs to know them."""
        redis = redis_client(site.redis_url, secrets.get(access.REDIS_IVR_SECRET))
        audiosocket = AudioSocketServer(site.agi_host, site.audiosocket_port if not worker else 0)
        # The engine here serves the menu flow's description and the 智能回访's spoken answers (when the site asks for
        # them); the live transcript is the ASR pool's work.
        if speech is None and load_speech and (uses_menu(site) or site.speech.revisit_by_voice):
            speech = load_engine(paths.home, site.speech)
        asr = AsrClient(redis, media_server_id(site)) if site.intake.live_transcript else None
        ivr = ivr_services(plan, paths.home, redis, speech=speech, audiosocket=audiosocket, retention=site.retention,
                           intake=site.intake, asr=asr)
        agi = AgiServer(Services(plan=plan, ivr=ivr, revisit_by_voice=site.speech.revisit_by_voice),
                        host=site.agi_host, port=site.agi_port,
                        shared_port=worker is not None)
        return cls(agi=agi, audiosocket=audiosocket, redis=redis, ivr=ivr, asr=asr,
                   retention=retention_rules(paths.home, site.retention))

    async def start(self) -> None:
        if self.asr is not None:
            await self.asr.start()
        await self.audiosocket.start()
        await self.agi.start()
        self._drainer = asyncio.create_task(self._drain_spools())
        if self.retention:
            self._housekeeping = asyncio.create_task(housekeeping.run_periodically(self.retention), name="retention")
        self._reporter = asyncio.create_task(self._report_served(), name="served")

    async def _report_served(self) -> None:
        """A log line when this process's count of AGI requests changed (at most every ``report_every`` seconds):
        with several media processes on one port, how the kernel spread the calls, at no cost per call."""
        reported = 0
        while True:
            await asyncio.sleep(self.report_every)
            if self.agi.handled != reported:
                reported = self.agi.handled
                log.info("media pid %d: %d AGI requests served (%d failed) since it started",
                         os.getpid(), reported, self.agi.failed)

    async def drain_spools(self) -> int:
        return await drain_spools(self.ivr)

    async def _drain_spools(self) -> None:
        while True:
            try:
                moved = await self.drain_spools()
                if moved:
                    log.info("moved %d spooled prefills/surveys/回访 results into Redis", moved)
            except Exception:
                log.exception("draining the spools failed")
            await asyncio.sleep(self.drain_every)

    async def stop(self) -> None:
        for periodic in (self._drainer, self._housekeeping, self._reporter):
            if periodic is not None:
                periodic.cancel()
        self._drainer = self._housekeeping = self._reporter = None
        await self.agi.stop()
        await self.audiosocket.stop()
        for finalizing in list(self.ivr.background):  # let prefills in flight reach Redis or the spool
            await finalizing
        if self.asr is not None:
            await self.asr.stop()
        await self.redis.aclose()
