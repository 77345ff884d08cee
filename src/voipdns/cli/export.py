"""voipdns-export: model -> ONNX file with metadata, ONNX Runtime parity check, optional INT8 (+ its PESQ)."""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from voipdns.cli.common import log
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR
from voipdns.export.pipeline import export_offline, export_streaming, quantize_mode, refuse_static_for_personalised
from voipdns.export.source import ModelSource, load_model, model_from_config


def resolve_source(cfg: DictConfig) -> ModelSource:
    if cfg.get("checkpoint"):
        return load_model(str(cfg.checkpoint))
    if cfg.get("net"):
        source = model_from_config(cfg.net)
        log.warning(
            "exporting an UNTRAINED %s (random weights): pass checkpoint=<name or path> for a trained one",
            source.name,
        )
        return source
    raise ValueError("voipdns-export: set checkpoint=<registry name or checkpoint path>, or net=<conf/net name>")


def output_path(cfg: DictConfig, source: ModelSource) -> Path:
    if cfg.get("output"):
        return Path(cfg.output)
    suffix = "_stream" if cfg.stream else ""
    return Path(cfg.paths.output_dir) / f"{source.name}{suffix}.onnx"


def run_export(cfg: DictConfig) -> list[Path]:
    """Export the configured model (offline or streaming graph, optional INT8 copy); returns the files written."""
    torch.set_num_threads(int(cfg.threads))
    mode = quantize_mode(cfg.get("quantize"), streaming=bool(cfg.stream))  # before any work: fails at once
    source = resolve_source(cfg)
    refuse_static_for_personalised(source, mode)
    path = output_path(cfg, source)
    export = export_streaming if cfg.stream else export_offline
    return export(cfg, source, path, mode)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="export")
@cli_entry(resume=None)
def main(cfg: DictConfig) -> None:
    for path in run_export(cfg):
        log.info("exported %s", path)


if __name__ == "__main__":
    main()
