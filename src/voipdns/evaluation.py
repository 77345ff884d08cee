"""Score a model (or the unprocessed input) on a dataset: enhance lazily, score in workers, resume, report.

A bad item (an empty, unreadable, unpaired, length-mismatched or NaN/Inf file) is skipped and counted by default:
the reason per file goes to the console and to ``summary.md``, and the caller exits non-zero at the end;
``strict=True`` stops at the first one instead. Scores finished before a failure are on disk (see ``score_items``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from voipdns.audio import AudioFileError, save_audio
from voipdns.chunking import ChunkedEnhancer
from voipdns.data.alignment import AlignmentError
from voipdns.enhancers import Enhancer
from voipdns.reports.score_files import ScoreItem, score_items
from voipdns.reports.write import write_report

log = logging.getLogger(__name__)

# what a dataset raises for one bad item (the message names the file); any other error is a bug and propagates
BAD_ITEM_ERRORS = (AudioFileError, AlignmentError)


def enhance_clip(
    enhancer: Enhancer, noisy: np.ndarray, chunk_seconds: float, overlap_seconds: float, save_to: Path | None = None
) -> np.ndarray:
    """Whole-clip enhancement in bounded chunks (same path as voipdns-enhance, so results agree)."""
    rate = enhancer.sample_rate
    chunker = ChunkedEnhancer(enhancer.enhance, round(chunk_seconds * rate), round(overlap_seconds * rate))
    estimate = np.concatenate(list(chunker.process(iter([noisy.astype(np.float32)]))))
    if save_to is not None:
        save_audio(save_to, estimate[None], rate)
    return estimate


class DatasetItems:
    """Lazily turns dataset items into ScoreItems; the estimate is computed only for clips not yet scored."""

    def __init__(
        self,
        dataset: Dataset,
        enhancer: Enhancer,
        chunk_seconds: float,
        overlap_seconds: float,
        enhanced_dir: Path | None = None,
        strict: bool = False,
    ):
        self.dataset = dataset
        self.enhancer = enhancer
        self.chunk_seconds = chunk_seconds
        self.overlap_seconds = overlap_seconds
        self.enhanced_dir = enhanced_dir
        self.strict = strict
        self.skipped: dict[str, str] = {}  # file (or item) -> why it was not scored
        left_out = getattr(dataset, "skipped", {})  # items the dataset left out when it was built
        if left_out and strict:
            what, reason = next(iter(left_out.items()))
            raise ValueError(f"{what}: {reason} (strict=true stops at the first bad item)")
        for what, reason in left_out.items():
            self._skip(what, reason)

    def _skip(self, what: str, reason: str) -> None:
        self.skipped[what] = reason
        log.warning("skipped %s: %s", what, reason)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[ScoreItem]:
        for index in range(len(self.dataset)):
            try:
                item = self.dataset[index]
            except BAD_ITEM_ERRORS as error:
                if self.strict:
                    raise
                self._skip(getattr(error, "path", f"item {index}"), getattr(error, "problem", str(error)))
                continue
            noisy = item["noisy"].reshape(-1).numpy()
            clean = item["clean"].reshape(-1).numpy() if "clean" in item else None
            condition = str(item.get("condition", ""))
            name = str(item.get("name", f"item{index:06d}"))
            save_to = None
            if self.enhanced_dir is not None:
                save_to = self.enhanced_dir / (condition or "all") / f"{name}.wav"
            estimate = functools.partial(
                enhance_clip, self.enhancer, noisy, self.chunk_seconds, self.overlap_seconds, save_to
            )
            yield ScoreItem(name=name, estimate=estimate, clean=clean, noisy=noisy, condition=condition)


def model_label(spec: str) -> str:
    """A short column name for reports: registry name, ``input``, or the run folder of a checkpoint."""
    path = Path(spec)
    if not path.suffix:
        return spec
    parent = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return f"{parent.name}/{path.stem}" if parent.name else path.stem


@dataclass
class Evaluation:
    """The report's files and the items that were not scored ({file: reason})."""

    files: dict[str, Path]
    skipped: dict[str, str] = field(default_factory=dict)


def skipped_markdown(skipped: dict[str, str]) -> str:
    lines = [
        f"## Skipped items ({len(skipped)})",
        "",
        "Not scored (fix or remove them and rerun; `strict=true` stops at the first).",
        "",
        "| file | reason |",
        "|---|---|",
    ]
    lines += [f"| {what} | {reason.replace('|', '/')} |" for what, reason in skipped.items()]
    return "\n".join(lines) + "\n"


def _report(rows: list[dict[str, str]], output_dir: Path, label: str, skipped: dict[str, str]) -> dict[str, Path]:
    """The report of the scored rows with the skipped items appended (or alone, when nothing was scored)."""
    if rows or not skipped:
        files = write_report(rows, output_dir, model=label)  # no rows and nothing skipped: its clear error
    else:
        files = {"summary_md": output_dir / "summary.md"}
    if skipped:
        summary = files["summary_md"]
        before = summary.read_text() if rows else "# Results per condition\n\nNothing was scored.\n"
        summary.write_text(before.rstrip("\n") + "\n\n" + skipped_markdown(skipped))
    return files


def evaluate(
    dataset: Dataset,
    enhancer: Enhancer,
    output_dir: Path,
    *,
    metrics: list[str],
    num_workers: int,
    chunk_seconds: float,
    overlap_seconds: float,
    save_enhanced: bool,
    label: str,
    strict: bool = False,
) -> Evaluation:
    """Writes ``scores.csv`` (per file, resumable) and the report; bad items are skipped unless ``strict``."""
    dataset_rate = getattr(dataset, "sample_rate", enhancer.sample_rate)
    if int(dataset_rate) != enhancer.sample_rate:
        raise ValueError(
            f"the data is at {dataset_rate} Hz but {label} expects {enhancer.sample_rate} Hz: set "
            f"data.sample_rate={enhancer.sample_rate} (datasets resample on load)"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    items = DatasetItems(
        dataset,
        enhancer,
        chunk_seconds,
        overlap_seconds,
        output_dir / "enhanced" if save_enhanced else None,
        strict=strict,
    )
    rows = score_items(
        items,
        output_dir / "scores.csv",
        metrics=metrics,
        sample_rate=enhancer.sample_rate,
        num_workers=num_workers,
        model=label,
    )
    return Evaluation(_report(rows, output_dir, label, items.skipped), items.skipped)
