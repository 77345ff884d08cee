"""INT8 quantisation of an exported file, and what it costs in quality.

Two modes:

* ``dynamic``: int8 weights, activations quantised at run time; no calibration data. Only LSTM/GRU/MatMul/
  Gemm by default (``DEFAULT_OP_TYPES``): ONNX Runtime's dynamic ``ConvInteger`` is slower than FP32 convs.
* ``static``: convolutions and dense layers get int8 weights (per channel) *and* int8 activations whose
  ranges are calibrated on example audio (QDQ format; ONNX Runtime runs them as ``QLinearConv``, which
  uses the CPU's int8 dot-product instructions); recurrent layers are quantised dynamically on top. Nodes
  the exporter marks as precision-critical (metadata ``int8_keep_float``) stay FP32. dns48: RTF 0.033 vs
  0.068 FP32, PESQ-WB -0.007 (bench/README.md).

Quality is measured on real or synthetic noisy/clean pairs: wide-band
PESQ of the FP32 and INT8 outputs against the clean reference, and the SNR of the INT8 output against the
FP32 output (how far quantisation moves the output, meaningful even for an untrained net).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from tqdm.auto import tqdm

from voipdns.audio import list_audio_files, load_audio
from voipdns.data.synthetic import SyntheticSpeechDataset
from voipdns.export.adapters import KEEP_FLOAT_KEY
from voipdns.export.metadata import read_metadata, set_metadata
from voipdns.export.runtime import OnnxNet
from voipdns.metrics.intrusive import pesq_wb
from voipdns.progress import AudioProgress

#: voicebank-demand-debug layout: clean/ and noisy/ with the same file names
PAIRS_SUBDIR = Path("pairs") / "voicebank-demand-debug"


def int8_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.int8{path.suffix}")


@contextmanager
def _quiet_root_logger():
    """The quantiser logs every tensor it skips (shape tensors) as a root-logger warning."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


#: Dynamic mode: recurrent and dense layers only by default. ONNX Runtime's dynamic ConvInteger is slower
#: than its FP32 Conv on CPU (dns48 under load: RTF 0.37 with convs vs 0.18 without); static mode is the fast
#: INT8 path for convolutions.
DEFAULT_OP_TYPES = ("MatMul", "Gemm", "LSTM", "GRU")
#: Static mode: calibrated int8 activations for these; recurrent layers are quantised dynamically after.
STATIC_OP_TYPES = ("Conv", "MatMul", "Gemm")
RECURRENT_OP_TYPES = ("LSTM", "GRU")
MODES = ("dynamic", "static")


def quantize_int8(
    source: str | Path,
    target: str | Path | None = None,
    op_types: Sequence[str] | None = None,
    mode: str = "dynamic",
    calibration: Sequence[np.ndarray] = (),
    reduce_range: bool = False,
    prepare: Callable[[OnnxNet], None] | None = None,
    keep_float: str | None = None,
) -> Path:
    """Writes the INT8 version of ``source`` (default ``<name>.int8.onnx``) with the metadata carried over.

    ``op_types``: node types to quantise (default ``DEFAULT_OP_TYPES`` / ``STATIC_OP_TYPES`` by mode).
    ``calibration``: noisy waveforms (1-D, at the model's rate) the static mode measures activation ranges
    on. ``reduce_range``: 7-bit weights, for CPUs without VNNI whose int8 kernels can saturate.
    ``prepare``: called on the FP32 model before calibration (e.g. to enrol a speaker for PPN).
    ``keep_float``: regular expression of node names static mode leaves in FP32 (default: the exporter's
    choice, metadata ``int8_keep_float``; "" quantises every node of ``op_types``).
    """
    source = Path(source)
    target = Path(target) if target else int8_path(source)
    values = read_metadata(source)
    if mode == "dynamic":
        with _quiet_root_logger():
            quantize_dynamic(
                str(source), str(target), weight_type=QuantType.QInt8, reduce_range=reduce_range,
                op_types_to_quantize=list(op_types or DEFAULT_OP_TYPES),
            )  # fmt: skip
    elif mode == "static":
        if not calibration:
            raise ValueError(f"{source}: static INT8 needs calibration audio (a list of noisy waveforms)")
        feeds = calibration_feeds(source, calibration, prepare)
        keep = values.get(KEEP_FLOAT_KEY, "") if keep_float is None else keep_float
        _quantize_static(source, target, feeds, keep, tuple(op_types or STATIC_OP_TYPES), reduce_range)
    else:
        raise ValueError(f"quantize mode {mode!r}: choose one of {MODES}")
    model = onnx.load(str(target))
    set_metadata(model, {**values, "quantization": f"int8_{mode}"})
    onnx.save(model, str(target))
    return target


class _RecordingSession:
    """Wraps an ONNX Runtime session and keeps every input feed it is run with."""

    def __init__(self, session):
        self.session, self.feeds = session, []

    def run(self, output_names, feed):
        self.feeds.append(dict(feed))
        return self.session.run(output_names, feed)

    def __getattr__(self, name):
        return getattr(self.session, name)


def calibration_feeds(
    path: str | Path, waveforms: Sequence[np.ndarray], prepare: Callable[[OnnxNet], None] | None = None
) -> list[dict[str, np.ndarray]]:
    """The graph inputs the FP32 file sees while enhancing ``waveforms``: for core-only graphs (STFT models)
    these are the features the runtime computes around the graph, not the audio."""
    model = OnnxNet(path)
    if prepare is not None:
        prepare(model)
    model.session = recorder = _RecordingSession(model.session)
    with AudioProgress(len(waveforms), "INT8 calibration: FP32 pass", unit="clip") as bar:
        for waveform in waveforms:
            model.enhance(torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32)).view(1, 1, -1))
            bar.update(audio_seconds=len(waveform) / model.sample_rate)
    return recorder.feeds


class _FeedReader(CalibrationDataReader):
    """Hands ONNX Runtime's calibrator one recorded feed at a time, counting them on a progress bar."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self.feeds = iter(feeds)
        self.bar = tqdm(total=len(feeds), desc="INT8 calibration: activation ranges", unit="feed")

    def get_next(self):
        feed = next(self.feeds, None)
        if feed is None:
            self.bar.close()
        else:
            self.bar.update(1)
        return feed


def keep_float_nodes(model: onnx.ModelProto, patterns: str) -> list[str]:
    """Names of the nodes matching the ``|``-joined regular expressions ``patterns`` (empty: none)."""
    if not patterns:
        return []
    matcher = re.compile(patterns)
    return [node.name for node in model.graph.node if matcher.search(node.name)]


def _quantize_static(source: Path, target: Path, feeds, keep_float: str, op_types, reduce_range: bool) -> None:
    with tempfile.TemporaryDirectory() as folder, _quiet_root_logger():
        prepared, static = Path(folder) / "prepared.onnx", Path(folder) / "static.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        kept = keep_float_nodes(model, keep_float)
        if keep_float and not kept:
            raise ValueError(f"{source}: keep_float pattern {keep_float!r} matches no node of the graph")
        quantize_static(
            str(prepared), str(static), _FeedReader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range,
            op_types_to_quantize=list(op_types), nodes_to_exclude=kept,
        )  # fmt: skip
        if any(node.op_type in RECURRENT_OP_TYPES for node in model.graph.node):
            quantize_dynamic(
                str(static), str(target), weight_type=QuantType.QInt8, reduce_range=reduce_range,
                op_types_to_quantize=list(RECURRENT_OP_TYPES),
            )  # fmt: skip
        else:
            shutil.copyfile(static, target)


def quality_clips(count: int, seconds: float, sample_rate: int, shared_data: str | Path | None = None):
    """``count`` (name, clean, noisy) pairs: real VoiceBank-DEMAND pairs when present, else synthetic ones."""
    if shared_data and (Path(shared_data) / PAIRS_SUBDIR / "clean").is_dir():
        folder = Path(shared_data) / PAIRS_SUBDIR
        names = sorted(p.name for p in (folder / "clean").glob("*.wav"))[:count]
        return [
            (name, load_audio(folder / "clean" / name, sample_rate)[0].numpy(),
             load_audio(folder / "noisy" / name, sample_rate)[0].numpy())
            for name in names
        ]  # fmt: skip
    data = SyntheticSpeechDataset(num_items=count, segment_seconds=seconds, sample_rate=sample_rate, seed=1234)
    return [
        (item["name"], item["clean"][0].numpy(), item["noisy"][0].numpy()) for item in (data[i] for i in range(count))
    ]


def calibration_audio(
    count: int, seconds: float, sample_rate: int, folder: str | Path | None = None
) -> list[np.ndarray]:
    """Noisy waveforms for static calibration: the first ``count`` audio files of ``folder`` (cut to
    ``seconds``), else synthetic speech in noise drawn apart from ``quality_clips``' (another seed), so the
    quality report is never measured on calibration audio."""
    if folder:
        files = list_audio_files(folder)[:count]
        return [load_audio(p, sample_rate)[0, : int(seconds * sample_rate)].numpy() for p in files]
    data = SyntheticSpeechDataset(num_items=count, segment_seconds=seconds, sample_rate=sample_rate, seed=4321)
    return [data[i]["noisy"][0].numpy() for i in range(count)]


@dataclass
class QualityReport:
    rows: list[dict] = field(default_factory=list)

    def mean(self, key: str) -> float:
        values = [row[key] for row in self.rows if not math.isnan(row[key])]
        return float(np.mean(values)) if values else float("nan")

    def lines(self) -> list[str]:
        out = ["INT8 quality (wide-band PESQ vs clean; SNR of INT8 vs FP32 output):"]
        for row in self.rows:
            out.append(
                f"  {row['name']}: input {row['pesq_input']:.3f}  fp32 {row['pesq_fp32']:.3f}  "
                f"int8 {row['pesq_int8']:.3f}  int8-vs-fp32 SNR {row['snr_db']:.1f} dB"
            )
        out.append(
            f"  mean: input {self.mean('pesq_input'):.3f}  fp32 {self.mean('pesq_fp32'):.3f}  "
            f"int8 {self.mean('pesq_int8'):.3f}  "
            f"(change {self.mean('pesq_int8') - self.mean('pesq_fp32'):+.3f})  "
            f"SNR {self.mean('snr_db'):.1f} dB"
        )
        return out


def output_snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SNR in dB of ``estimate`` against ``reference`` (how far quantisation moved an output; inf if equal)."""
    noise = float(np.sum((reference - estimate) ** 2))
    return 10.0 * math.log10(float(np.sum(reference**2)) / noise) if noise > 0 else float("inf")


def _pesq_or_nan(clean: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    try:
        return float(pesq_wb(clean, estimate, sample_rate))
    except Exception:  # a clip PESQ rejects (no utterance found) counts as NaN, never 0
        return float("nan")


@torch.inference_mode()
def int8_quality(fp32_path: str | Path, int8_file: str | Path, clips, threads: int = 1) -> QualityReport:
    fp32, int8 = OnnxNet(fp32_path, threads), OnnxNet(int8_file, threads)
    report = QualityReport()
    for name, clean, noisy in clips:
        x = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32)).view(1, 1, -1)
        out32 = fp32.enhance(x).view(-1).numpy()
        out8 = int8.enhance(x).view(-1).numpy()
        rate = fp32.sample_rate
        report.rows.append(
            {
                "name": name,
                "pesq_input": _pesq_or_nan(clean, noisy, rate),
                "pesq_fp32": _pesq_or_nan(clean, out32, rate),
                "pesq_int8": _pesq_or_nan(clean, out8, rate),
                "snr_db": output_snr_db(out32, out8),
            }
        )
    return report
