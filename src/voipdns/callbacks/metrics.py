"""Lightning callback: PESQ/STOI/SI-SDR of validation and test clips, scored in worker processes.

Reads what the Task's ``validation_step`` / ``test_step`` return: ``{"estimate": [B,1,T], "noisy": [B,1,T],
"clean": [B,1,T] | None, "name": list[str], "condition": list[str]}``. Clips without a clean reference are
skipped. Logged keys: ``val/<metric>``, ``test/<metric>`` (NaN-ignoring means), ``<stage>/<metric>_failures``
(when > 0), the unprocessed input's ``input/<metric>`` once per run (validation clips) and
``test/input_<metric>``. Test also keeps per-clip rows (``test_rows``) and writes ``test_scores.csv`` and
``test_scores_by_condition.csv`` to the run's log dir. Under DDP each rank scores its own clips; sums and
counts are reduced across ranks, so the logged means are exact. The first ``log_audio_clips`` validation clips
of each scored epoch go to TensorBoard / W&B as audio and spectrograms (``callbacks/audio_samples.py``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch import Callback

from voipdns.callbacks.audio_samples import AudioClip, as_clip, log_audio_samples
from voipdns.metrics.intrusive import DEFAULT_METRICS
from voipdns.metrics.pool import ScoringPool
from voipdns.metrics.scoring import ClipScores, output_names
from voipdns.metrics.summary import condition_means, summarize, write_csv

log = logging.getLogger(__name__)

STAGES = ("val", "test")
REQUIRED_OUTPUTS = ("estimate", "noisy")


class EnhancementMetrics(Callback):
    """Score capped validation clips every ``val_every_n_epochs`` epochs and every test clip.

    Args:
        metrics: scorer names (see ``voipdns.metrics.available_scorers()``) for validation, and for test
            unless ``test_metrics`` is given.
        test_metrics: scorer names for the test stage (e.g. add ``dnsmos``, ``egemaps_mae``, which are too slow
            to run every validation); ``None`` = ``metrics``.
        val_max_clips: validation clips scored per epoch and rank (``None`` = all); the same first clips
            each epoch when the validation loader is not shuffled. The input's scores are cached by clip
            name, which assumes a clip name always denotes the same (deterministic) validation audio.
        val_every_n_epochs: score on epochs 0, n, 2n, ... (other epochs log no ``val/<metric>``).
        num_workers: scoring processes per rank (0 = inline, for debugging).
        stages: subset of ``("val", "test")``.
        sample_rate: Hz of the waveforms; default: ``pl_module.net.sample_rate`` or ``pl_module.sample_rate``.
        test_csv: file name of the per-clip test table inside the log dir (``None`` = do not write).
        log_audio_clips: the first N validation clips of each scored epoch (noisy, enhanced, clean audio and a
            spectrogram image) are sent to the TensorBoard and W&B loggers, when active; 0 = none.
    """

    def __init__(
        self,
        metrics: Sequence[str] = DEFAULT_METRICS,
        test_metrics: Sequence[str] | None = None,
        val_max_clips: int | None = 16,
        val_every_n_epochs: int = 1,
        num_workers: int = 2,
        stages: Sequence[str] = STAGES,
        sample_rate: int | None = None,
        test_csv: str | None = "test_scores.csv",
        start_method: str = "spawn",
        log_audio_clips: int = 3,
    ):
        super().__init__()
        unknown = sorted(set(stages) - set(STAGES))
        if unknown:
            raise ValueError(f"EnhancementMetrics: unknown stages {unknown}; choose from {list(STAGES)}")
        if val_every_n_epochs < 1:
            raise ValueError(f"EnhancementMetrics: val_every_n_epochs must be >= 1, got {val_every_n_epochs}")
        if val_max_clips is not None and val_max_clips < 1:
            raise ValueError(f"EnhancementMetrics: val_max_clips must be >= 1 or null, got {val_max_clips}")
        self.metrics_by_stage = {"val": tuple(metrics), "test": tuple(test_metrics or metrics)}
        # fails here, at config time, for an unknown metric
        self.keys_by_stage = {stage: output_names(names) for stage, names in self.metrics_by_stage.items()}
        self.metrics = self.metrics_by_stage["val"]
        self.keys = self.keys_by_stage["val"]  # the keys of the stage being scored (set by _begin)
        self.val_max_clips = val_max_clips
        self.val_every_n_epochs = int(val_every_n_epochs)
        self.num_workers = int(num_workers)
        self.stages = tuple(stages)
        self.sample_rate = sample_rate
        self.test_csv = test_csv
        self.start_method = start_method
        if log_audio_clips < 0:
            raise ValueError(f"EnhancementMetrics: log_audio_clips must be >= 0, got {log_audio_clips}")
        self.log_audio_clips = int(log_audio_clips)
        self._audio_clips: list[AudioClip] = []
        self._rate: int | None = None
        self.test_rows: list[dict[str, Any]] = []
        self.test_condition_means: dict[str, dict[str, float]] = {}
        self.last_means: dict[str, float] = {}  # every value logged by the last scored epoch
        self._input_logged = False
        self._input_cache: dict[tuple, ClipScores] = {}  # (stage, loader, condition, name) -> noisy-vs-clean
        self._pools: dict[str, ScoringPool] = {}
        self._pool: ScoringPool | None = None  # the pool of the stage being scored
        self._stage: str | None = None  # the stage being scored now, None when idle
        self._clips: list[dict[str, Any]] = []
        self._skipped_no_clean = 0

    # ---- lifecycle -------------------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self._pools:
            rate = self._rate = self.sample_rate or _module_sample_rate(pl_module)
            self._pools = {
                stage: ScoringPool(self.num_workers, self.metrics_by_stage[stage], rate, self.start_method)
                for stage in self.stages
            }

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._close(cancel=False)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._close(cancel=True)

    def _close(self, cancel: bool) -> None:
        for pool in self._pools.values():
            pool.close(cancel=cancel)
        self._pools, self._pool = {}, None
        self._stage = None

    def state_dict(self) -> dict[str, Any]:
        return {"input_logged": self._input_logged}  # a resumed run does not log input/ again

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._input_logged = bool(state_dict.get("input_logged", False))

    # ---- validation ------------------------------------------------------------------------------
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        scored_epoch = trainer.current_epoch % self.val_every_n_epochs == 0 or trainer.state.fn != "fit"
        if "val" in self.stages and not trainer.sanity_checking and scored_epoch:
            self._begin("val")

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self._stage == "val":
            if trainer.is_global_zero:
                self._keep_audio(outputs, batch_idx)
            self._submit(outputs, batch_idx, dataloader_idx, self.val_max_clips)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._stage != "val":
            return
        estimates, inputs = self._collect()
        values = self._log_stage(trainer, pl_module, "val", estimates)
        if self._audio_clips:
            log_audio_samples(trainer.loggers, self._audio_clips, self._rate, trainer.global_step)
            self._audio_clips = []
        if not self._input_logged and values:
            values.update(self._log_means(trainer, pl_module, "input/", inputs, with_failures=False))
            self._input_logged = True
        self.last_means = values

    # ---- test ------------------------------------------------------------------------------------
    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if "test" in self.stages:
            self._begin("test")
            self.test_rows, self.test_condition_means = [], {}

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self._stage == "test":
            self._submit(outputs, batch_idx, dataloader_idx, None)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._stage != "test":
            return
        clips = self._clips
        estimates, inputs = self._collect()
        rows = _gather_rows(trainer, [_row(c, e, i) for c, e, i in zip(clips, estimates, inputs, strict=True)])
        self.test_rows = rows
        # rows are now global (identical on every rank): summaries need no further reduction
        values = self._log_stage(trainer, pl_module, "test", rows, reduce=False)
        values.update(self._log_means(trainer, pl_module, "test/input_", _inputs_of(rows), False, False))
        self.last_means = values
        input_keys = [f"input_{k}" for k in self.keys]
        self.test_condition_means = condition_means(rows, self.keys + input_keys)
        if self.test_csv and rows:
            # trainer.log_dir broadcasts under DDP: every rank must ask, or rank 0 waits forever
            folder = Path(trainer.log_dir or trainer.default_root_dir)
            if trainer.is_global_zero:
                self._write_tables(folder, rows, input_keys)

    def _write_tables(self, folder: Path, rows: list[dict[str, Any]], input_keys: list[str]) -> None:
        path = write_csv(folder / self.test_csv, rows, ["name", "condition", *self.keys, *input_keys, "failures"])
        by_condition = [{"condition": c, **means} for c, means in self.test_condition_means.items()]
        write_csv(
            path.with_name(f"{path.stem}_by_condition.csv"),
            by_condition,
            ["condition", *self.keys, *input_keys],
        )
        log.info("per-clip test scores written to %s", path)

    # ---- shared ----------------------------------------------------------------------------------
    def _begin(self, stage: str) -> None:
        if stage not in self._pools:
            raise RuntimeError("EnhancementMetrics: no scoring pool; setup() was not called by the Trainer")
        self._pool, self.keys = self._pools[stage], self.keys_by_stage[stage]
        self._stage, self._clips, self._skipped_no_clean = stage, [], 0
        self._audio_clips = []

    def _submit(self, outputs: Any, batch_idx: int, dataloader_idx: int, max_clips: int | None) -> None:
        estimate, noisy, clean, names, conditions = _unpack(outputs, self._stage, batch_idx)
        if clean is None:
            self._skipped_no_clean += len(estimate)
            return
        for b in range(len(estimate)):
            if max_clips is not None and len(self._clips) >= max_clips:
                return
            index = len(self._clips)
            # the same file name recurs across conditions (a relay per platform x receiver x setting)
            cache_key = (self._stage, dataloader_idx, conditions[b], names[b])
            self._clips.append({"name": names[b], "condition": conditions[b], "cache_key": cache_key})
            self._pool.submit(("estimate", index), clean[b], estimate[b])
            if cache_key not in self._input_cache:
                self._pool.submit(("input", index), clean[b], noisy[b])

    def _keep_audio(self, outputs: Any, batch_idx: int) -> None:
        """CPU copies of the epoch's first ``log_audio_clips`` clips (clean may be absent), for the loggers."""
        estimate, noisy, clean, names, _ = _unpack(outputs, self._stage, batch_idx)
        for b in range(min(len(estimate), self.log_audio_clips - len(self._audio_clips))):
            self._audio_clips.append(as_clip(names[b], noisy[b], estimate[b], None if clean is None else clean[b]))

    def _collect(self) -> tuple[list[ClipScores], list[ClipScores]]:
        """Wait for this epoch's clips; returns (estimate scores, input scores) in clip order."""
        results = self._pool.results().scores
        if self._skipped_no_clean:
            log.warning(
                "EnhancementMetrics: %d %s clips have no clean reference and were not scored",
                self._skipped_no_clean,
                self._stage,
            )
        for index, clip in enumerate(self._clips):
            if ("input", index) in results:
                self._input_cache[clip["cache_key"]] = results[("input", index)]
        estimates = [results[("estimate", i)] for i in range(len(self._clips))]
        inputs = [self._input_cache[clip["cache_key"]] for clip in self._clips]
        self._stage = None
        return estimates, inputs

    def _log_stage(self, trainer, pl_module, stage: str, clips, reduce: bool = True) -> dict[str, float]:
        return self._log_means(trainer, pl_module, f"{stage}/", clips, True, reduce)

    def _log_means(
        self, trainer, pl_module, prefix: str, clips, with_failures: bool = True, reduce: bool = True
    ) -> dict[str, float]:
        """Log NaN-ignoring means (NaN when every clip failed); nothing when no rank scored any clip."""
        summary = summarize(clips, self.keys)
        stats = torch.tensor(
            [
                [summary.means[k] * summary.counts[k] if summary.counts[k] else 0.0 for k in self.keys],
                [summary.counts[k] for k in self.keys],
                [summary.failures[k] for k in self.keys],
            ],
            dtype=torch.float64,
            device=pl_module.device,
        )
        if reduce:
            stats = trainer.strategy.reduce(stats, reduce_op="sum")
        totals, counts, failures = stats.cpu().tolist()
        values: dict[str, float] = {}
        for key, total, count, failed in zip(self.keys, totals, counts, failures, strict=True):
            if count + failed == 0:
                continue
            values[f"{prefix}{key}"] = total / count if count else math.nan
            if with_failures and failed > 0:
                values[f"{prefix}{key}_failures"] = failed
        for name, value in values.items():
            pl_module.log(name, value, on_step=False, on_epoch=True, sync_dist=True)
        return values


def _module_sample_rate(pl_module: pl.LightningModule) -> int:
    for owner in (getattr(pl_module, "net", None), pl_module):
        rate = getattr(owner, "sample_rate", None)
        if rate:
            return int(rate)
    raise ValueError(
        "EnhancementMetrics: set sample_rate, or give the LightningModule (or its .net) a sample_rate attribute in Hz"
    )


def _unpack(outputs: Any, stage: str | None, batch_idx: int):
    if not isinstance(outputs, Mapping) or any(k not in outputs for k in REQUIRED_OUTPUTS):
        got = sorted(outputs) if isinstance(outputs, Mapping) else type(outputs).__name__
        raise TypeError(
            f"EnhancementMetrics: the {stage} step must return a dict with 'estimate', 'noisy', "
            f"'clean' (or None), 'name' and 'condition'; got {got}"
        )
    estimate, noisy, clean = outputs["estimate"], outputs["noisy"], outputs.get("clean")
    batch_size = len(estimate)
    names = list(outputs.get("name") or [f"{stage}_batch{batch_idx}_{b}" for b in range(batch_size)])
    conditions = list(outputs.get("condition") or [""] * batch_size)
    if len(names) != batch_size or len(conditions) != batch_size:
        raise ValueError(
            f"EnhancementMetrics: {stage} outputs hold {batch_size} estimates but "
            f"{len(names)} names and {len(conditions)} conditions"
        )
    return estimate, noisy, clean, names, conditions


def _row(clip: dict[str, Any], estimate: ClipScores, inputs: ClipScores) -> dict[str, Any]:
    reasons = [f"{k}: {r}" for k, r in estimate.failures.items()]
    reasons += [f"input_{k}: {r}" for k, r in inputs.failures.items()]
    return {
        "name": clip["name"],
        "condition": clip["condition"],
        **estimate,
        **{f"input_{k}": v for k, v in inputs.items()},
        "failures": "; ".join(reasons),
    }


def _inputs_of(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    return [{k[len("input_") :]: v for k, v in row.items() if k.startswith("input_")} for row in rows]


def _gather_rows(trainer: pl.Trainer, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rank's rows on every rank (DDP); the local rows otherwise."""
    if trainer.world_size <= 1 or not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return rows
    gathered: list[list[dict[str, Any]] | None] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, rows)
    return [row for rank_rows in gathered for row in (rank_rows or [])]
