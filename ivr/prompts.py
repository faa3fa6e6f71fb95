"""The prompt catalogue and its rendering to Asterisk sound files.

Every prompt is Simplified Chinese text under an id. At install the text is spoken by espeak-ng's
Mandarin pinyin voice (Debian's espeak-ng has no Chinese character dictionary, so the text is turned
into tone-numbered pinyin with pypinyin first) and converted to 8 kHz mono WAV with sox. A site replaces
any prompt with a real recording by dropping ``<id>.wav`` into the override directory.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from pypinyin import Style, lazy_pinyin

from hotline import sounds
from ivr import revisit, ticket_status
from hotline.numberplan import CancelledLine, InboundLine, NumberPlan, RetainedLine

CATALOGUE = Path(__file__).with_name("prompts.yaml")
ENGINE = "espeak-ng cmn-latn-pinyin s185 / sox 8k mono"  # part of the cache key
RETAINED_NOTICE_PATTERN = "transfer-retained-notice"  # {number} {name} of the retained-seat line
_NUMBER_DIGITS = dict(zip("0123456789", "零幺二三四五六七八九"))  # phone numbers: 1 is 幺
_COUNT_DIGITS = dict(zip("0123456789", "零一二三四五六七八九"))   # "按1": 1 is 一
# Sounds that are not speech: made with sox's synthesiser (effect arguments), keyed like prompts.
TONES: dict[str, list[str]] = {
    # The quiet queue's "music": one faint 440 Hz pip, then 5 s of silence (the caller may be speaking).
    sounds.QUEUE_COMFORT: ["synth", "0.12", "sine", "440", "vol", "0.05", "pad", "0", "5"],
}
_PAUSE = re.compile(r"[，、；：]")
_STOP = re.compile(r"[。！？]")


def catalogue(plan: NumberPlan) -> dict[str, str]:
    """Every prompt the dialplan and the IVR may play: id → text."""
    text = CATALOGUE.read_text(encoding="utf-8")
    prompts: dict[str, str] = dict(yaml.safe_load(text))
    # A pattern, not a prompt: one notice per retained-seat line is made from it below.
    retained_notice = prompts.pop(RETAINED_NOTICE_PATTERN, "正在为您转接{number}{name}，本次通话将被录音，请稍候。")
    for line in plan.lines:
        if isinstance(line, InboundLine):
            prompts[sounds.greeting(line.number)] = line.greeting
        if isinstance(line, CancelledLine):
            prompts[sounds.notice(line.number)] = line.notice
            prompts[sounds.retired(line.number)] = line.retired_notice
        if isinstance(line, RetainedLine):
            prompts[sounds.transfer_notice(line.number)] = retained_notice.format(number=line.number, name=line.name)
    prompts["ivr-city-list"] = city_list_text(plan)
    prompts.update(ticket_status.prompt_texts())  # ticket progress read-back: states, digits, dates, units
    prompts.update(revisit.prompt_texts())  # 智能回访: the topics it reads the matter with
    prompts.update({tone_id: "sox " + " ".join(args) for tone_id, args in TONES.items()})
    return dict(sorted(prompts.items()))


def city_list_text(plan: NumberPlan) -> str:
    """The spoken list of two-digit city numbers: each sub-platform's position in the plan."""
    return "，".join(f"{sp.name}{i:02d}" for i, sp in enumerate(plan.subplatforms, 1)) + "。"


def to_pinyin(text: str) -> str:
    """Chinese text → tone-numbered pinyin espeak-ng can speak; numbers read digit by digit (1 as 幺)."""
    text = re.sub(
        r"[0-9]+",
        lambda m: "".join((_NUMBER_DIGITS if len(m.group()) >= 3 else _COUNT_DIGITS)[d] for d in m.group()),
        text,
    )
    text = _STOP.sub(". ", _PAUSE.sub(", ", text))
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors="default")
    return re.sub(r"\s+([,.])", r"\1", " ".join(s.strip() for s in syllables if s.strip()))


def render_all(prompts: dict[str, str], out_dir: Path, override_dir: Path | None = None, jobs: int = 2) -> list[str]:
    """Render every prompt to ``out_dir/<id>.wav``; skip ones whose text is unchanged. Returns ids rendered."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {tool}): prompts cannot be rendered")
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = []
    for prompt_id, text in prompts.items():
        source = override_dir / f"{prompt_id}.wav" if override_dir else None
        key = _key(text, source)
        stamp = out_dir / f"{prompt_id}.key"
        if (out_dir / f"{prompt_id}.wav").exists() and stamp.exists() and stamp.read_text() == key:
            continue
        todo.append((prompt_id, text, source if source and source.exists() else None, key))
    done: list[str] = []

    def one(item: tuple[str, str, Path | None, str]) -> str:
        prompt_id, text, source, key = item
        target = out_dir / f"{prompt_id}.wav"
        tmp = out_dir / f".{prompt_id}.tmp.wav"
        if source is not None:
            _sox(source, target)
        elif prompt_id in TONES:
            subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target),
                            *TONES[prompt_id]], check=True, capture_output=True)
        else:
            subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "185", "-w", str(tmp), to_pinyin(text)],
                           check=True, capture_output=True)
            _sox(tmp, target)
            tmp.unlink()
        (out_dir / f"{prompt_id}.key").write_text(key)
        return prompt_id

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, prompt_id in enumerate(pool.map(one, todo), 1):
            done.append(prompt_id)
            print(f"[prompts] {i}/{len(todo)} {prompt_id}", file=sys.stderr, flush=True)
    for stale in out_dir.glob("*.wav"):
        if stale.stem not in prompts:
            stale.unlink()
            stale.with_suffix(".key").unlink(missing_ok=True)
    return done


def _key(text: str, source: Path | None) -> str:
    h = hashlib.sha256(f"{ENGINE}\n{text}".encode())
    if source is not None and source.exists():
        h.update(source.read_bytes())
    return h.hexdigest()


def _sox(src: Path, dst: Path) -> None:
    subprocess.run(["sox", str(src), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(dst)],
                   check=True, capture_output=True)
