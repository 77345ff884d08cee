"""voipdns-export: model -> ONNX file with metadata, ONNX Runtime parity check, optional INT8 (+ its PESQ)."""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from voipdns.cli.common import log
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR
from voipdns.export.onnx_export import export_onnx
from voipdns.export.parity import check_parity
from voipdns.export.quantize import MODES, calibration_audio, int8_quality, quality_clips, quantize_int8
from voipdns.export.source import ModelSource, load_model, model_from_config
from voipdns.export.stream_graph import check_stream_parity, export_stream_onnx
from voipdns.streaming.factory import accepted_options, streamer_for


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


def quantize_mode(cfg: DictConfig, streaming: bool) -> str | None:
    """``cfg.quantize`` checked: None, "dynamic" or "static" (static needs the offline graph)."""
    mode = cfg.get("quantize") or None
    if mode is not None and mode not in MODES:
        raise ValueError(f"quantize={mode!r}: choose null, dynamic or static")
    if mode == "static" and streaming:
        raise ValueError(
            "quantize=static calibrates offline graphs only (a streaming graph's state inputs would need "
            "calibrating too): use quantize=dynamic with stream=true"
        )
    return mode


def quantize_file(cfg: DictConfig, path: Path, mode: str, sample_rate: int) -> Path:
    options = cfg.int8
    calibration = (
        calibration_audio(options.calibration_clips, options.calibration_seconds, sample_rate, options.calibration_dir)
        if mode == "static"
        else ()
    )
    ops = options.static_ops if mode == "static" else options.dynamic_ops
    return quantize_int8(
        path, op_types=tuple(ops), mode=mode, calibration=calibration, reduce_range=options.reduce_range,
        keep_float=options.keep_float,
    )  # fmt: skip


def log_and_check(report) -> None:
    """Logs a parity report (offline or streaming), then raises if it failed: the file stays for inspection."""
    for line in report.lines():
        log.info("%s", line)
    report.raise_if_failed()


def export_offline(cfg: DictConfig, source: ModelSource, path: Path, mode: str | None) -> list[Path]:
    spec = export_onnx(source.net, path, source.name, source.config, cfg.opset, cfg.example_seconds)
    log.info("wrote %s (graph %s, inputs %s)", path, spec.graph, list(spec.input_names))
    log_and_check(check_parity(source.net, path, list(cfg.parity.lengths_seconds), cfg.parity.tolerance, cfg.threads))
    written = [path]
    if mode:
        quantized = quantize_file(cfg, path, mode, source.net.sample_rate)
        written.append(quantized)
        clips = quality_clips(
            cfg.quality.clips, cfg.quality.seconds, source.net.sample_rate, cfg.quality.shared_data_dir
        )
        for line in int8_quality(path, quantized, clips, cfg.threads).lines():
            log.info("%s", line)
    return written


def export_streaming(cfg: DictConfig, source: ModelSource, path: Path, mode: str | None) -> list[Path]:
    options = accepted_options(source.net, {"lookahead_samples": cfg.streaming.lookahead_samples})
    streamer = streamer_for(source.net, **options)
    export_stream_onnx(streamer, path, source.name, source.config, cfg.opset)
    log.info(
        "wrote %s (streaming %s: hop %d samples, latency %d samples = %.1f ms, states %s)",
        path,
        streamer.family,
        streamer.hop_samples,
        streamer.latency_samples,
        streamer.latency_ms,
        list(streamer.core.state_names),
    )
    log_and_check(check_stream_parity(streamer, path, tolerance=cfg.parity.tolerance, threads=cfg.threads))
    written = [path]
    if mode:
        quantized = quantize_file(cfg, path, mode, source.net.sample_rate)
        written.append(quantized)
        change = check_stream_parity(streamer, quantized, tolerance=float("inf"), threads=cfg.threads)
        log.info("INT8 streaming graph %s: max |INT8 - FP32 PyTorch| %.3e", quantized, change.max_abs_diff)
    return written


def run_export(cfg: DictConfig) -> list[Path]:
    torch.set_num_threads(int(cfg.threads))
    mode = quantize_mode(cfg, streaming=bool(cfg.stream))  # before any work: a bad value fails at once
    source = resolve_source(cfg)
    if mode == "static" and getattr(source.net, "embedding_dim", 0):
        raise ValueError(
            f"quantize=static: {source.name} is personalised and its calibration would need enrolled speaker "
            "embeddings; use quantize=dynamic (or voipdns.export.quantize.quantize_int8 with prepare=)"
        )
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
