"""Score a model (or the unprocessed input) on a dataset: enhance lazily, score in workers, resume, report."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from voipdns.enhancers import Enhancer
from voipdns.inference import ChunkedEnhancer
from voipdns.reports.score_files import ScoreItem, score_items
from voipdns.reports.write import write_report


def enhance_clip(enhancer: Enhancer, noisy: np.ndarray, chunk_seconds: float, overlap_seconds: float,
                 save_to: Path | None = None) -> np.ndarray:
    """Whole-clip enhancement in bounded chunks (same path as voipdns-enhance, so results agree)."""
    rate = enhancer.sample_rate
    chunker = ChunkedEnhancer(enhancer.enhance, round(chunk_seconds * rate), round(overlap_seconds * rate))
    estimate = np.concatenate(list(chunker.process(iter([noisy.astype(np.float32)]))))
    if save_to is not None:
        from voipdns.audio import save_audio

        save_audio(save_to, estimate[None], rate)
    return estimate


class DatasetItems:
    """Lazily turns dataset items into ScoreItems; the estimate is computed only for clips not yet scored."""

    def __init__(self, dataset: Dataset, enhancer: Enhancer, chunk_seconds: float, overlap_seconds: float,
                 enhanced_dir: Path | None = None):
        self.dataset = dataset
        self.enhancer = enhancer
        self.chunk_seconds = chunk_seconds
        self.overlap_seconds = overlap_seconds
        self.enhanced_dir = enhanced_dir

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[ScoreItem]:
        for index in range(len(self.dataset)):
            item = self.dataset[index]
            noisy = item["noisy"].reshape(-1).numpy()
            clean = item["clean"].reshape(-1).numpy() if "clean" in item else None
            condition = str(item.get("condition", ""))
            name = str(item.get("name", f"item{index:06d}"))
            save_to = None
            if self.enhanced_dir is not None:
                save_to = self.enhanced_dir / (condition or "all") / f"{name}.wav"
            estimate = functools.partial(enhance_clip, self.enhancer, noisy, self.chunk_seconds,
                                         self.overlap_seconds, save_to)
            yield ScoreItem(name=name, estimate=estimate, clean=clean, noisy=noisy, condition=condition)


def model_label(spec: str) -> str:
    """A short column name for reports: registry name, ``input``, or the run folder of a checkpoint."""
    path = Path(spec)
    if not path.suffix:
        return spec
    parent = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return f"{parent.name}/{path.stem}" if parent.name else path.stem


def evaluate(dataset: Dataset, enhancer: Enhancer, output_dir: Path, *, metrics: list[str], num_workers: int,
             chunk_seconds: float, overlap_seconds: float, save_enhanced: bool, label: str) -> dict[str, Path]:
    """Writes ``scores.csv`` (per file, resumable) and the report; returns the report's files."""
    dataset_rate = getattr(dataset, "sample_rate", enhancer.sample_rate)
    if int(dataset_rate) != enhancer.sample_rate:
        raise ValueError(f"the data is at {dataset_rate} Hz but {label} expects {enhancer.sample_rate} Hz: set "
                         f"data.sample_rate={enhancer.sample_rate} (datasets resample on load)")
    output_dir.mkdir(parents=True, exist_ok=True)
    items = DatasetItems(dataset, enhancer, chunk_seconds, overlap_seconds,
                         output_dir / "enhanced" if save_enhanced else None)
    rows = score_items(items, output_dir / "scores.csv", metrics=metrics, sample_rate=enhancer.sample_rate,
                       num_workers=num_workers, model=label)
    return write_report(rows, output_dir, model=label)
