"""Small audio helpers for 8 kHz telephone PCM."""

from __future__ import annotations

import numpy as np

from ivr.speech import SAMPLE_RATE


def pcm_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def upsample_8k_to_16k(samples: np.ndarray) -> np.ndarray:
    """Linear interpolation to 16 kHz (Whisper's rate); telephone audio has nothing above 4 kHz anyway."""
    if samples.size == 0:
        return samples
    positions = np.arange(samples.size * 2, dtype=np.float32) / 2
    return np.interp(positions, np.arange(samples.size, dtype=np.float32), samples).astype(np.float32)


def rms_dbfs(pcm: bytes) -> float:
    samples = pcm_to_float(pcm)
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20 * np.log10(max(rms, 1e-6))


class PauseDetector:
    """Finds the end of a spoken phrase: speech, then ``pause`` seconds below the level threshold.

    The threshold adapts to the line's noise floor (the quietest frames seen), so a noisy line does not
    look like endless speech and a quiet one does not cut words.
    """

    def __init__(self, pause: float = 0.6, min_speech: float = 0.3, margin_db: float = 12.0,
                 floor_db: float = -50.0):
        self.pause = pause
        self.min_speech = min_speech
        self.margin_db = margin_db
        self.noise_db = floor_db
        self.speech_seconds = 0.0
        self.silence_seconds = 0.0

    @property
    def threshold_db(self) -> float:
        return self.noise_db + self.margin_db

    def push(self, pcm: bytes) -> bool:
        """Feed one frame; True when it ends a phrase (speech followed by a long enough pause)."""
        seconds = len(pcm) / 2 / SAMPLE_RATE
        level = rms_dbfs(pcm)
        # Follow the noise floor down at once, up slowly; never below -60 dBFS (digital silence).
        self.noise_db = max(-60.0, level if level < self.noise_db else min(self.noise_db + 0.02, level))
        if level > self.threshold_db:
            self.speech_seconds += seconds
            self.silence_seconds = 0.0
            return False
        self.silence_seconds += seconds
        if self.speech_seconds >= self.min_speech and self.silence_seconds >= self.pause:
            self.speech_seconds = 0.0
            return True
        return False

    @property
    def heard_speech(self) -> bool:
        return self.speech_seconds >= self.min_speech
