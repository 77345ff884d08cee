"""Speaker-classification data from one or more utterances per speaker, split *within* each utterance.

With one utterance per speaker (the development set here), the speaker labels of train and validation must be
the same, so each utterance is split in time: the first ``1 - val_fraction`` gives random training crops, the
tail gives fixed validation segments that the embedder never sees in training.
File names follow LibriSpeech (``<speaker>-<chapter>-<utt>.flac``): the speaker id is the part before
the first ``-``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from voipdns.audio import AUDIO_EXTENSIONS, load_audio
from voipdns.rates import DEFAULT_SAMPLE_RATE


@dataclass
class Utterance:
    speaker: str
    wave: torch.Tensor  # [T]


def load_speaker_directory(
    directory: str | Path,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    max_seconds: float | None = None,
    max_speakers: int | None = None,
) -> list[Utterance]:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"speaker data directory {directory} does not exist")
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {directory}")
    utterances = []
    speakers: set[str] = set()
    for path in files:
        speaker = path.stem.split("-")[0]
        if max_speakers is not None and speaker not in speakers and len(speakers) >= max_speakers:
            continue
        speakers.add(speaker)
        wave = load_audio(path, sample_rate)[0]
        if max_seconds is not None:
            wave = wave[: int(max_seconds * sample_rate)]
        utterances.append(Utterance(speaker, wave))
    return utterances


def split_point(num_samples: int, val_fraction: float) -> int:
    return int(round(num_samples * (1.0 - val_fraction)))


class TrainSegments(Dataset):
    """Random crops of ``segment_samples`` from the training part of each utterance (short parts are looped).

    Crops come from the dataset's own generator, so they differ every epoch and are reproducible from ``seed``
    with ``num_workers=0`` (workers would each copy the generator).
    """

    def __init__(self, utterances: list[Utterance], segment_samples: int, val_fraction: float, length: int, seed=0):
        self.speakers = sorted({u.speaker for u in utterances})
        index = {s: i for i, s in enumerate(self.speakers)}
        self.parts = [u.wave[: split_point(u.wave.numel(), val_fraction)] for u in utterances]
        self.labels = [index[u.speaker] for u in utterances]
        self.segment_samples, self.length = segment_samples, length
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        generator = self.generator
        which = int(torch.randint(0, len(self.parts), (1,), generator=generator))
        part = self.parts[which]
        if part.numel() < self.segment_samples:
            part = part.repeat(-(-self.segment_samples // part.numel()))
        start = int(torch.randint(0, part.numel() - self.segment_samples + 1, (1,), generator=generator))
        return part[start : start + self.segment_samples], self.labels[which]


class ValidationSegments(Dataset):
    """Up to ``per_speaker`` non-overlapping segments from each utterance's held-out tail (min 0.5 s)."""

    def __init__(
        self,
        utterances: list[Utterance],
        speakers: list[str],
        segment_samples: int,
        val_fraction: float,
        per_speaker: int = 2,
        min_samples: int = 8000,
    ):
        index = {s: i for i, s in enumerate(speakers)}
        self.items: list[tuple[torch.Tensor, int]] = []
        for utt in utterances:
            tail = utt.wave[split_point(utt.wave.numel(), val_fraction) :]
            length = min(segment_samples, tail.numel() // per_speaker)
            if length < min_samples:
                length = min(segment_samples, tail.numel())
            if length < min_samples:
                continue
            for k in range(min(per_speaker, tail.numel() // length)):
                self.items.append((tail[k * length : (k + 1) * length], index[utt.speaker]))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        return self.items[item]
