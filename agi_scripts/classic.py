"""Classic AGI: the same routes and IVR, run as a script Asterisk starts from agi-bin (pyst2).

For sites that run AGI scripts instead of a FastAGI server. Asterisk starts one process per call:
``AGI(hotline-agi,entry)``; the process reads its settings from the JSON file the generator wrote next
to the Asterisk config, runs the route from the one route table through the same dispatcher as the
FastAGI server, and exits. Its AudioSocket listener lives for the call only. Everything runs where
Asterisk runs (inside the chroot here), so every path in the settings is as Asterisk sees it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("hotline.classic_agi")


def route_headers(env: dict[str, str]) -> dict[str, str]:
    """The AGI environment as a route sees it over FastAGI: here the first AGI() argument is the route's name
    (``AGI(hotline-agi,entry,...)``), so ``agi_arg_2`` onwards become the route's ``agi_arg_1`` onwards."""
    headers = {k: val for k, val in env.items() if not k.startswith("agi_arg_")}
    for key, val in env.items():
        if key.startswith("agi_arg_") and key[8:].isdigit() and int(key[8:]) > 1:
            headers[f"agi_arg_{int(key[8:]) - 1}"] = val
    return headers


async def serve_one(agi: Any, settings: dict[str, Any], route_name: str) -> str:
    from agi_scripts.app import drain_spools, ivr_services, redis_client
    from ivr.asr.client import AsrClient
    from agi_scripts.audiosocket import AudioSocketServer
    from agi_scripts.channel import ClassicAgiChannel
    from agi_scripts.routes import ROUTES, AgiCall, Services
    from agi_scripts.server import dispatch
    from hotline.numberplan import load_plan
    from hotline.site import Intake, Speech
    from ivr.speech.loader import load_engine

    plan = load_plan(Path(settings["plan"]))
    home = Path(settings["home"])
    password = Path(settings["redis_password_file"]).read_text().strip()
    redis = redis_client(settings["redis_url"], password, settings.get("redis_username"))
    audiosocket = AudioSocketServer(settings["audiosocket_host"], 0)
    await audiosocket.start()
    intake = Intake.model_validate(settings.get("intake", {}))
    # Only the menu flow's entry listens to the caller here; the live transcript (route listen) is the ASR pool's.
    speech = (load_engine(home, Speech.model_validate(settings["speech"]))
              if route_name == "entry" and (intake.mode == "menu" or "menu" in intake.lines.values()) else None)
    # The entry route only needs to know the pool exists (to start listening legs); the listen route talks to it.
    asr = AsrClient(redis, f"classic-{os.getpid()}") if intake.live_transcript else None
    if asr is not None and route_name == "listen":
        await asr.start()
    ivr = ivr_services(plan, home, redis, speech=speech, audiosocket=audiosocket, intake=intake, asr=asr)
    try:
        call = AgiCall(channel=ClassicAgiChannel(agi), headers=route_headers(agi.env),
                       services=Services(plan=plan, ivr=ivr))
        status = await dispatch(ROUTES.get(route_name), route_name, call)
        for task in list(ivr.background):  # the process ends with the call: finish the prefill first
            await task
        # No server outlives a classic-AGI call: each call's process moves what earlier calls spooled while
        # Redis was down (its own included), once the caller is done with it.
        try:
            await drain_spools(ivr)
        except Exception:
            log.exception("draining the spools failed")
        return status
    finally:
        await audiosocket.stop()
        if asr is not None and route_name == "listen":
            await asr.stop()
        await redis.aclose()


def main(settings_file: str) -> int:
    from asterisk.agi import AGI

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="hotline-agi %(levelname)s %(name)s: %(message)s")
    with open(os.devnull, "w") as quiet:  # pyst2 echoes every line to stderr, i.e. Asterisk's log
        agi = AGI(stdin=sys.stdin, stdout=sys.stdout, stderr=quiet)
        settings = json.loads(Path(settings_file).read_text(encoding="utf-8"))
        route_name = sys.argv[1] if len(sys.argv) > 1 else "entry"
        asyncio.run(serve_one(agi, settings, route_name))
    return 0
