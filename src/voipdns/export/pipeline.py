"""The steps voipdns-export runs on one model: write the graph, check it against PyTorch, then the INT8 copy.

Each step reads its settings from the export config (conf/export.yaml: ``opset``, ``parity``, ``int8``,
``quality``, ``threads``); the CLI only picks the model, the output path and the mode.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from voipdns.export.onnx_export import export_onnx
from voipdns.export.parity import check_parity
from voipdns.export.quantize import MODES, calibration_audio, int8_quality, quality_clips, quantize_int8
from voipdns.export.source import ModelSource
from voipdns.export.stream_graph import check_stream_parity, export_stream_onnx
from voipdns.streaming.factory import accepted_options, streamer_for

log = logging.getLogger(__name__)


def quantize_mode(mode: str | None, streaming: bool) -> str | None:
    """``quantize=`` checked: None, "dynamic" or "static" (static needs the offline graph)."""
    mode = mode or None
    if mode is not None and mode not in MODES:
        raise ValueError(f"quantize={mode!r}: choose null, dynamic or static")
    if mode == "static" and streaming:
        raise ValueError(
            "quantize=static calibrates offline graphs only (a streaming graph's state inputs would need "
            "calibrating too): use quantize=dynamic with stream=true"
        )
    return mode


def refuse_static_for_personalised(source: ModelSource, mode: str | None) -> None:
    """Static calibration feeds noisy audio only; a personalised net also needs an enrolled speaker embedding."""
    if mode == "static" and getattr(source.net, "embedding_dim", 0):
        raise ValueError(
            f"quantize=static: {source.name} is personalised and its calibration would need enrolled speaker "
            "embeddings; use quantize=dynamic (or voipdns.export.quantize.quantize_int8 with prepare=)"
        )


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
    """The whole-signal graph, its parity at several lengths, and with ``mode`` its INT8 copy and PESQ change."""
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
    """One streaming step with explicit state, its parity with the PyTorch streamer, and with ``mode`` INT8."""
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
