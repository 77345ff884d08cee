"""voipdns-eval: checkpoint / registry name / ONNX file / ``input`` + a DataModule split -> per-file CSV + report."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from voipdns.cli.common import log, save_run_info
from voipdns.cli.entry import cli_entry, needs_one_split
from voipdns.config import CONFIG_DIR
from voipdns.enhancers import load_enhancer
from voipdns.evaluation import evaluate, model_label


def split_dataset(cfg: DictConfig):
    """Builds only the split being scored, so the other splits' mandatory paths need not be set. Unless
    ``strict``, a dataset that can leave bad items out at construction (``skip_bad_items_kwargs``) does so."""
    node = cfg.data.get(cfg.split)
    if node is None:
        raise ValueError(f"split={cfg.split}: data.{cfg.split} is null in this data config; choose test or val")
    skip_kwargs = {} if cfg.strict else getattr(hydra.utils.get_class(node._target_), "skip_bad_items_kwargs", {})
    return hydra.utils.instantiate(node, **skip_kwargs)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="eval")
@cli_entry(needs=needs_one_split)
def main(cfg: DictConfig) -> None:
    output_dir = Path(cfg.output_dir)
    save_run_info(cfg, str(output_dir))
    enhancer = load_enhancer(str(cfg.checkpoint), cfg.device, stream=cfg.stream)
    label = cfg.get("label") or model_label(str(cfg.checkpoint))
    outcome = evaluate(
        split_dataset(cfg),
        enhancer,
        output_dir,
        metrics=list(cfg.metrics),
        num_workers=cfg.num_workers,
        chunk_seconds=cfg.chunk_seconds,
        overlap_seconds=cfg.overlap_seconds,
        save_enhanced=cfg.save_enhanced,
        label=label,
        strict=cfg.strict,
    )
    summary = outcome.files.get("summary_md")
    if summary is not None and Path(summary).exists():
        print(Path(summary).read_text())
    log.info("per-file scores: %s; report: %s", output_dir / "scores.csv", output_dir)
    if outcome.skipped:
        raise SystemExit(
            f"{len(outcome.skipped)} item(s) skipped, not scored (reasons above and in {summary}); "
            "strict=true stops at the first"
        )


if __name__ == "__main__":
    main()
