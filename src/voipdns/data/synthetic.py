"""`SyntheticSpeechDataset`: generated speech (or your speech files) in generated noise, the embedded default data.

Item `i` is a pure function of `(seed, i)` (and the epoch when the training sampler passes `(epoch, i)`), so
it is identical across workers, orders and machines. Used by the tests and `make demo`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from voipdns.audio import AUDIO_EXTENSIONS, list_audio_files
from voipdns.data.base import EpochItemDataset
from voipdns.data.epochs import item_rng
from voipdns.data.mixing import as_range, mix, uniform
from voipdns.data.noise_synth import NOISE_GENERATORS, generate_noise
from voipdns.data.reader import AudioReader
from voipdns.data.speech_synth import synthesize_speech
from voipdns.rates import DEFAULT_SAMPLE_RATE

DEFAULT_NOISE_TYPES = tuple(NOISE_GENERATORS)


class SyntheticSpeechDataset(EpochItemDataset):
    """Speech-like signals (see `speech_synth`) mixed with one generated noise per item.

    Args:
        num_items: dataset length.
        segment_seconds: length of every item.
        sample_rate: Hz.
        snr_db_range: [low, high] SNR in dB (speech power over active frames, see `mixing`).
        level_dbfs_range: [low, high] RMS level of the noisy mixture in dBFS.
        seed: different seeds give disjoint-looking splits (train/val/test use different seeds).
        noise_types: subset of babble, white, pink, brown, hum, clicks; item `condition` is the type.
        speech_dir: a folder of speech files to crop instead of generated speech (e.g. the real LibriSpeech
            clips shipped for `make demo`); item i uses file i mod n, cropped at a seeded position.
    """

    def __init__(
        self,
        num_items: int = 1000,
        segment_seconds: float = 4.0,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        snr_db_range: Sequence[float] = (-5.0, 20.0),
        level_dbfs_range: Sequence[float] = (-35.0, -15.0),
        seed: int = 0,
        noise_types: Sequence[str] = DEFAULT_NOISE_TYPES,
        speech_dir: str | os.PathLike | None = None,
    ) -> None:
        if num_items <= 0:
            raise ValueError(f"SyntheticSpeechDataset: num_items must be > 0, got {num_items}")
        if segment_seconds <= 0:
            raise ValueError(f"SyntheticSpeechDataset: segment_seconds must be > 0, got {segment_seconds}")
        self.noise_types = tuple(str(n) for n in noise_types)
        unknown = sorted(set(self.noise_types) - set(NOISE_GENERATORS))
        if unknown or not self.noise_types:
            raise ValueError(
                f"SyntheticSpeechDataset: unknown noise_types {unknown or '[]'}; choose from {sorted(NOISE_GENERATORS)}"
            )
        self.num_items = int(num_items)
        self.segment_seconds = float(segment_seconds)
        self.sample_rate = int(sample_rate)
        self.segment_samples = int(round(self.segment_seconds * self.sample_rate))
        self.snr_db_range = as_range(snr_db_range, "snr_db_range")
        self.level_dbfs_range = as_range(level_dbfs_range, "level_dbfs_range")
        self.seed = int(seed)
        # list_audio_files names the folder and what it lacks
        self.speech_files = list_audio_files(Path(speech_dir), AUDIO_EXTENSIONS) if speech_dir else []
        self.reader = AudioReader(self.sample_rate, cache_max_seconds=60.0)

    def _speech(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        if self.speech_files:
            path = self.speech_files[index % len(self.speech_files)]
            return self.reader.random_crop(path, self.segment_samples, rng, loop=True)
        return torch.from_numpy(synthesize_speech(rng, self.segment_samples, self.sample_rate).astype(np.float32))[None]

    def make_item(self, index: int, epoch: int) -> dict:
        rng = item_rng(self.seed, index, epoch)
        noise_type = self.noise_types[int(rng.integers(len(self.noise_types)))]
        snr_db = uniform(rng, self.snr_db_range)
        level_dbfs = uniform(rng, self.level_dbfs_range)
        # independent child streams: the speech of item i does not change when noise_types changes
        speech_rng, noise_rng = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(2))
        clean = self._speech(index, speech_rng)
        noise = generate_noise(noise_type, noise_rng, self.segment_samples, self.sample_rate)
        mixture = mix(
            clean,
            torch.from_numpy(noise.astype(np.float32))[None],
            snr_db,
            level_dbfs,
            self.sample_rate,
        )
        return {
            "noisy": mixture.noisy,
            "clean": mixture.clean,
            "name": f"synthetic_{index:06d}",
            "condition": noise_type,
        }

    def __repr__(self) -> str:
        return (
            f"SyntheticSpeechDataset(num_items={self.num_items}, segment_seconds={self.segment_seconds}, "
            f"sample_rate={self.sample_rate}, seed={self.seed}, noise_types={list(self.noise_types)})"
        )
