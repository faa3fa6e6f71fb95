"""The real Mandarin recordings of shared/stt-samples, with 8 kHz copies made by sox."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hotline.paths import PROJECT_ROOT

import os

# CI clones the project with shared/ beside it; HOTLINE_SHARED points elsewhere.
SAMPLES = Path(os.environ.get("HOTLINE_SHARED", PROJECT_ROOT.parent / "shared")) / "stt-samples"


def references() -> dict[str, str]:
    rows = (SAMPLES / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
    return {name.removesuffix(".wav"): text for name, text in (row.split("\t", 1) for row in rows if row)}


def to_8k(name: str, target_dir: Path) -> Path:
    """sox dithers when it resamples, with a new random seed each run unless -R; Whisper base hears that
    noise (the CER of the 87 files moved by up to 0.16 between two conversions), so the copies are made the
    same way every time."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{name}.wav"
    if not target.exists():
        subprocess.run(["sox", "-R", str(SAMPLES / f"{name}.wav"), "-r", "8000", "-c", "1", "-b", "16",
                        "-e", "signed-integer", str(target)], check=True, capture_output=True)
    return target


def synthesise(name: str, text: str, target_dir: Path) -> Path:
    """An 8 kHz recording of ``text`` spoken by the prompt renderer (espeak-ng Mandarin), for what no
    real sample says (e.g. a city name). Whisper understands only some of these: see tests/e2e."""
    import shutil
    import tempfile

    from ivr import prompts

    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{name}.wav"
    if not target.exists():
        with tempfile.TemporaryDirectory() as work:
            prompts.render_all({name: text}, Path(work))
            shutil.copy(Path(work) / f"{name}.wav", target)
    return target
