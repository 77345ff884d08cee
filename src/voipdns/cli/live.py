"""voipdns-live: microphone (or a file) -> streaming model -> output device (or a file), in real time."""

from __future__ import annotations

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from voipdns.cli.common import log
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR
from voipdns.enhancers import load_streamer
from voipdns.live.devices import DeviceSink, DeviceSource, format_devices, list_devices
from voipdns.live.io import AudioSink, AudioSource, FileSink, FileSource
from voipdns.live.loop import LiveReport, run_live
from voipdns.live.postprocess import PostChain
from voipdns.streaming.base import Streamer


def build_streamer(cfg: DictConfig) -> Streamer:
    if not cfg.get("checkpoint"):
        raise ValueError(
            "voipdns-live: set checkpoint=<registry name, checkpoint path or streaming .onnx> (or list_devices=true)"
        )
    return load_streamer(str(cfg.checkpoint), cfg.threads, **dict(cfg.streaming))


def build_post(cfg: DictConfig, sample_rate: int) -> PostChain:
    processors = []
    if cfg.postprocess.eq:
        processors.append(instantiate(cfg.postprocess.eq_settings, sample_rate=sample_rate))
    if cfg.postprocess.gate:
        processors.append(instantiate(cfg.postprocess.gate_settings, sample_rate=sample_rate))
    return PostChain(processors)


def build_io(cfg: DictConfig, sample_rate: int) -> tuple[AudioSource, AudioSink]:
    if cfg.input:
        source: AudioSource = FileSource(cfg.input, sample_rate, cfg.block_samples)
    else:
        source = DeviceSource(cfg.input_device, sample_rate, cfg.block_samples, cfg.device_sample_rate)
    if cfg.output:
        sink: AudioSink = FileSink(cfg.output, sample_rate)
    else:
        sink = DeviceSink(cfg.output_device, sample_rate, cfg.block_samples, cfg.device_sample_rate)
    return source, sink


def run(cfg: DictConfig) -> LiveReport | None:
    if cfg.list_devices:
        print(format_devices(list_devices()))
        return None
    torch.set_num_threads(int(cfg.threads))
    streamer = build_streamer(cfg)
    log.info(
        "%s: %s streaming, hop %d samples, latency %d samples (%.1f ms)",
        cfg.checkpoint,
        streamer.name,
        streamer.hop_samples,
        streamer.latency_samples,
        streamer.latency_ms,
    )
    source, sink = build_io(cfg, streamer.sample_rate)
    log.info(
        "running: %s -> %s (Ctrl-C stops)",
        cfg.input or f"input device {cfg.input_device}",
        cfg.output or f"output device {cfg.output_device}",
    )
    try:
        report = run_live(source, streamer, sink, build_post(cfg, streamer.sample_rate), cfg.seconds)
    except KeyboardInterrupt:
        log.info("stopped")
        return None
    log.info("%s", report.line())
    return report


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="live")
@cli_entry(resume=None)
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
