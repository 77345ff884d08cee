"""DNS Challenge 4 (ICASSP 2022): non-personalised and personalised mixtures with interfering talkers.

Layout read (the DNS-4 download scripts): personalised track ``pdns_training_set/raw/clean/<language>/...
/<stem>.wav`` (one long recording per speaker) with its enrollment speech ``pdns_training_set/
enrollment_wav/<language>/.../enrol_<stem>.wav``; noise ``datasets_fullband/noise_fullband``, RIRs
``datasets_fullband/impulse_responses`` (48 kHz files, resampled on load). The speaker of a file is its stem
(`speaker_from="stem"`, the pdns layout), the DNS reader id in ``..._reader_01234_...`` names ("dns_reader",
the non-personalised clean_fullband) or its first folder ("parent_dir"); enrollment files are grouped by the
same rule (an ``enrol_`` prefix is ignored).

An item: the target speaker's speech, 0..`max_interferers` other speakers at an SIR uniform in `sir_db_range`
(target over interferer, active-speech power), optional reverberation, noise at `snr_db_range`, level
`target_level_dbfs +- target_level_range_db`. Targets by `track`:
- ``personalized``: the target speaker only (q = 1 everywhere);
- ``non_personalized``: all speech, interferers included (q = 0);
- ``unified`` (UPN): per-frame flag q_t drawn per sequence (all 1, all 0, or 1-2 switches held >= 200 frames,
  `voipdns.speaker.q_flags.draw_q`); target = target speaker where q_t = 1, all speech where q_t = 0.
Extras: ``q`` and ``vad`` (10 ms frames, frame t centred on sample t * 160 as in PercepNet: ceil(T / hop) + 1
frames; vad = target speaker active, from the energy of its clean speech), ``speaker`` (id), ``enrollment``
(a path, or `enrollment_seconds` of audio with ``enrollment_mode="audio"``) and, with `embedding_dir`
(a `voipdns.speaker.cache.SpeakerEmbeddingCache` directory of ``<speaker>.pt`` files), ``embedding``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from voipdns.audio import AUDIO_EXTENSIONS, list_audio_files
from voipdns.data.base import EpochItemDataset
from voipdns.data.dns2020 import mix_with_targets
from voipdns.data.epochs import item_rng
from voipdns.data.mixing import as_range, scale_noise_to_snr, uniform
from voipdns.data.reader import AudioReader, as_path_list
from voipdns.data.rir import REVERB_TARGETS, RIRSource, apply_reverb
from voipdns.data.splits import select_split
from voipdns.dsp.percepnet_frames import num_frames
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.speaker.q_flags import draw_q

TRACKS = ("personalized", "non_personalized", "unified")
SPEAKER_FROM = ("stem", "dns_reader", "parent_dir")
ENROLLMENT_MODES = ("path", "audio", "none")
FRAME_SECONDS = 0.01
_READER = re.compile(r"reader_(\d+)")


def speaker_of(path: Path, root: Path, speaker_from: str) -> str:
    stem = path.stem[len("enrol_") :] if path.stem.startswith("enrol_") else path.stem
    if speaker_from == "stem":
        return stem
    if speaker_from == "dns_reader":
        match = _READER.search(stem)
        return f"reader_{match.group(1)}" if match else stem
    if speaker_from == "parent_dir":
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            raise ValueError(f"{path}: speaker_from='parent_dir' needs one folder per speaker under {root}")
        return parts[0]
    raise ValueError(f"speaker_from must be one of {SPEAKER_FROM}, got {speaker_from!r}")


def vad_labels(
    speech: torch.Tensor, sample_rate: int, threshold_db: float = 40.0, floor_dbfs: float = -70.0
) -> torch.Tensor:
    """Per 10 ms frame (t centred on t * hop, 20 ms span): 1.0 where `speech[1, T]` is active (frame energy
    within `threshold_db` of the loudest frame and above `floor_dbfs`)."""
    hop = int(round(FRAME_SECONDS * sample_rate))
    length = speech.shape[-1]
    frames = num_frames(length, hop)
    padded = torch.nn.functional.pad(speech.reshape(-1).double(), (hop, (frames + 1) * hop - length - hop))
    energy = padded.unfold(0, 2 * hop, hop)[:frames].pow(2).mean(-1)
    peak = float(energy.max())
    if peak <= 0:
        return torch.zeros(frames)
    active = (energy > peak * 10 ** (-threshold_db / 10)) & (energy > 10 ** (floor_dbfs / 10))
    return active.float()


def frames_to_samples(flags: torch.Tensor, length: int, hop: int) -> torch.Tensor:
    """Per-sample value of per-frame `flags` (sample n takes the frame whose centre is nearest)."""
    index = torch.div(torch.arange(length) + hop // 2, hop, rounding_mode="floor").clamp(max=len(flags) - 1)
    return flags[index]


class DNS4Dataset(EpochItemDataset):
    """DNS-4 training/validation mixtures (see module doc).

    Args:
        clean_dir: speech root(s); enrollment_dir: enrollment speech (not needed by non_personalized).
        noise_dir: noise root(s); rir: optional `RIRSource` with `reverb_probability`, `reverb_target`.
        interferer_probability / max_interferers / sir_db_range: interfering talkers (SIR -2..10 dB).
        missing_enrollment: 'error' (default) or 'skip' (drop speakers without enrollment, with a warning).
        split / val_fraction / split_seed: disjoint by speaker ('train', 'val', 'all').
        q_probabilities: (all 1, all 0, switching) weights of the unified track's q schedule.
    """

    def __init__(
        self,
        clean_dir: str | os.PathLike | Sequence[str],
        noise_dir: str | os.PathLike | Sequence[str],
        enrollment_dir: str | os.PathLike | None = None,
        track: str = "unified",
        speaker_from: str = "stem",
        segment_seconds: float = 4.0,
        snr_db_range: Sequence[float] = (0.0, 30.0),
        sir_db_range: Sequence[float] = (-2.0, 10.0),
        interferer_probability: float = 0.6,
        max_interferers: int = 1,
        target_level_dbfs: float = -25.0,
        target_level_range_db: float = 10.0,
        rir: RIRSource | None = None,
        reverb_probability: float = 0.0,
        reverb_target: str = "early",
        enrollment_mode: str = "path",
        enrollment_seconds: float = 10.0,
        embedding_dir: str | os.PathLike | None = None,
        missing_enrollment: str = "error",
        q_min_hold_frames: int = 200,
        q_probabilities: Sequence[float] = (1 / 3, 1 / 3, 1 / 3),
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        seed: int = 0,
        split: str = "all",
        val_fraction: float = 0.05,
        split_seed: int = 0,
        num_items: int | None = None,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
    ) -> None:
        self._check_args(
            track,
            speaker_from,
            enrollment_mode,
            missing_enrollment,
            reverb_target,
            interferer_probability,
            max_interferers,
            reverb_probability,
            rir,
        )
        self.track, self.speaker_from, self.enrollment_mode = track, speaker_from, enrollment_mode
        self.sample_rate = int(sample_rate)
        self.hop = int(round(FRAME_SECONDS * self.sample_rate))
        self.segment_samples = int(round(segment_seconds * self.sample_rate))
        self.enrollment_samples = int(round(enrollment_seconds * self.sample_rate))
        self.snr_db_range, self.sir_db_range = (
            as_range(snr_db_range, "snr_db_range"),
            as_range(sir_db_range, "sir_db_range"),
        )
        self.level_range = (
            target_level_dbfs - target_level_range_db,
            target_level_dbfs + target_level_range_db,
        )
        self.interferer_probability, self.max_interferers = (
            float(interferer_probability),
            int(max_interferers),
        )
        self.rir, self.reverb_probability, self.reverb_target = rir, float(reverb_probability), reverb_target
        self.q_min_hold_frames, self.q_probabilities = (
            int(q_min_hold_frames),
            tuple(float(p) for p in q_probabilities),
        )
        self.embedding_dir = None if embedding_dir is None else Path(embedding_dir)
        self.seed, self.split = int(seed), split
        self.reader = AudioReader(self.sample_rate)
        self._index_files(
            as_path_list(clean_dir, "clean_dir"),
            enrollment_dir,
            extensions,
            missing_enrollment,
            split,
            val_fraction,
            split_seed,
        )
        self.num_items = len(self.files) if num_items is None else int(num_items)
        self.noise_files = [
            f for root in as_path_list(noise_dir, "noise_dir") for f in list_audio_files(root, extensions)
        ]

    @staticmethod
    def _check_args(
        track,
        speaker_from,
        enrollment_mode,
        missing_enrollment,
        reverb_target,
        interferer_probability,
        max_interferers,
        reverb_probability,
        rir,
    ) -> None:
        for name, value, allowed in (
            ("track", track, TRACKS),
            ("speaker_from", speaker_from, SPEAKER_FROM),
            ("enrollment_mode", enrollment_mode, ENROLLMENT_MODES),
            ("missing_enrollment", missing_enrollment, ("error", "skip")),
            ("reverb_target", reverb_target, REVERB_TARGETS),
        ):
            if value not in allowed:
                raise ValueError(f"DNS4Dataset: {name} must be one of {allowed}, got {value!r}")
        if not 0.0 <= interferer_probability <= 1.0 or max_interferers < 0:
            raise ValueError(
                f"DNS4Dataset: need interferer_probability in [0, 1] and max_interferers >= 0, got "
                f"{interferer_probability}, {max_interferers}"
            )
        if reverb_probability > 0 and rir is None:
            raise ValueError("DNS4Dataset: reverb_probability > 0 needs rir (a RIRSource)")

    def _index_files(
        self, roots, enrollment_dir, extensions, missing_enrollment, split, val_fraction, split_seed
    ) -> None:
        files, speakers = [], []
        for root in roots:
            for path in list_audio_files(root, extensions):
                files.append(path)
                speakers.append(speaker_of(path, root, self.speaker_from))
        self.enrollments: dict[str, list[Path]] = defaultdict(list)
        needs_enrollment = self.track != "non_personalized" and self.enrollment_mode != "none"
        if needs_enrollment:
            if enrollment_dir is None:
                raise ValueError(f"DNS4Dataset: track={self.track!r} needs enrollment_dir (or enrollment_mode='none')")
            enrollment_root = Path(enrollment_dir)
            for path in list_audio_files(enrollment_root, extensions):
                self.enrollments[speaker_of(path, enrollment_root, self.speaker_from)].append(path)
            files, speakers = self._drop_unenrolled(files, speakers, enrollment_root, missing_enrollment)
        self.files = select_split(files, speakers, split, val_fraction, split_seed, f"speech in {roots}")
        kept = set(self.files)
        self.speakers = [s for f, s in zip(files, speakers, strict=True) if f in kept]
        self.files_by_speaker: dict[str, list[Path]] = defaultdict(list)
        for path, speaker in zip(self.files, self.speakers, strict=True):
            self.files_by_speaker[speaker].append(path)
        if self.interferer_probability > 0 and self.max_interferers > 0 and len(self.files_by_speaker) < 2:
            raise ValueError(
                f"DNS4Dataset: interfering talkers need >= 2 speakers, {roots} ({split}) has "
                f"{len(self.files_by_speaker)}; set interferer_probability=0"
            )

    def _drop_unenrolled(self, files, speakers, enrollment_root, missing_enrollment):
        missing = sorted({s for s in speakers if s not in self.enrollments})
        if not missing:
            return files, speakers
        examples = ", ".join(
            f"{s} (no enrol_{s}.* under {enrollment_root})" if self.speaker_from == "stem" else s for s in missing[:5]
        )
        message = f"DNS4Dataset: {len(missing)} speaker(s) without enrollment speech: {examples}"
        if missing_enrollment == "error":
            raise ValueError(message + "; set missing_enrollment='skip' to drop them")
        warnings.warn(message + "; skipped", stacklevel=3)
        keep = [i for i, s in enumerate(speakers) if s in self.enrollments]
        if not keep:
            raise ValueError(message + "; none left")
        return [files[i] for i in keep], [speakers[i] for i in keep]

    def _interferers(self, speaker: str, rng: np.random.Generator) -> list[torch.Tensor]:
        if self.max_interferers == 0 or rng.random() >= self.interferer_probability:
            return []
        others = [s for s in self.files_by_speaker if s != speaker]
        count = int(rng.integers(1, self.max_interferers + 1))
        chosen = [others[int(i)] for i in rng.choice(len(others), size=min(count, len(others)), replace=False)]
        return [
            self.reader.random_crop(
                self.files_by_speaker[s][int(rng.integers(len(self.files_by_speaker[s])))],
                self.segment_samples,
                rng,
            )
            for s in chosen
        ]

    def _reverberate(self, sources: list[torch.Tensor], rng) -> tuple[list[torch.Tensor], torch.Tensor, bool]:
        """Each source in its own drawn room: (sources as heard, the target's target, reverberant?)."""
        if self.rir is None or rng.random() >= self.reverb_probability:
            return sources, sources[0], False
        heard, target = [], sources[0]
        for i, source in enumerate(sources):
            wet, dry_target = apply_reverb(source, self.rir.draw(rng), self.reverb_target, self.sample_rate)
            heard.append(wet)
            target = dry_target if i == 0 else target
        return heard, target, True

    def make_item(self, index: int, epoch: int) -> dict:
        rng = item_rng(self.seed, index, epoch)
        path = self.files[index % len(self.files)]
        speaker = self.speakers[index % len(self.files)]
        target = self.reader.random_crop(path, self.segment_samples, rng)
        interferers = [
            scale_noise_to_snr(target, x, uniform(rng, self.sir_db_range), self.sample_rate)
            for x in self._interferers(speaker, rng)
        ]
        heard, personal, reverberant = self._reverberate([target, *interferers], rng)
        all_speech_heard = torch.stack(heard).sum(0)
        all_speech_target = personal + sum(heard[1:], torch.zeros_like(personal))
        noise_path = self.noise_files[int(rng.integers(len(self.noise_files)))]
        noise = self.reader.random_crop(noise_path, self.segment_samples, rng, loop=True)
        noisy, (personal, all_speech_target) = mix_with_targets(
            all_speech_heard,
            noise,
            uniform(rng, self.snr_db_range),
            uniform(rng, self.level_range),
            self.sample_rate,
            [personal, all_speech_target],
            active_speech=True,
        )
        q = self._q(rng, noisy.shape[-1])
        q_samples = frames_to_samples(q, noisy.shape[-1], self.hop)[None]
        clean = q_samples * personal + (1 - q_samples) * all_speech_target
        item = {
            "noisy": noisy.float(),
            "clean": clean.float(),
            "name": f"{self.split}_{index:06d}_{path.stem}",
            "condition": f"{self.track}_{'interferer' if interferers else 'single'}",
            "q": q,
            "vad": vad_labels(target, self.sample_rate),
            "speaker": speaker,
        }
        self._add_enrollment(item, speaker, rng)
        return item

    def _q(self, rng: np.random.Generator, length: int) -> torch.Tensor:
        frames = num_frames(length, self.hop)
        if self.track == "personalized":
            return torch.ones(frames)
        if self.track == "non_personalized":
            return torch.zeros(frames)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return draw_q(frames, generator, self.q_min_hold_frames, self.q_probabilities)

    def _add_enrollment(self, item: dict, speaker: str, rng: np.random.Generator) -> None:
        clips = self.enrollments.get(speaker, [])
        if clips and self.enrollment_mode == "path":
            item["enrollment"] = str(clips[int(rng.integers(len(clips)))])
        elif clips and self.enrollment_mode == "audio":
            item["enrollment"] = self.reader.random_crop(
                clips[int(rng.integers(len(clips)))], self.enrollment_samples, rng
            )
        if self.embedding_dir is not None:
            path = self.embedding_dir / f"{speaker}.pt"
            if not path.is_file():
                raise FileNotFoundError(
                    f"DNS4Dataset: no cached embedding {path} for speaker {speaker!r} "
                    f"(fill the cache with voipdns.speaker.cache.SpeakerEmbeddingCache)"
                )
            item["embedding"] = torch.load(path, map_location="cpu", weights_only=True).float()

    def __repr__(self) -> str:
        return (
            f"DNS4Dataset(track={self.track!r}, split={self.split!r}, {len(self.files)} files, "
            f"{len(self.files_by_speaker)} speakers, {len(self.noise_files)} noise files, "
            f"num_items={self.num_items})"
        )
