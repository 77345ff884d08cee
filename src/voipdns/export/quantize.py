"""INT8 dynamic quantisation of an exported file, and what it costs in quality.

``quantize_dynamic`` stores weights as int8 and quantises activations at run time; no calibration data
needed. By default only the LSTM/GRU/MatMul/Gemm weights are quantised (see ``DEFAULT_OP_TYPES``).
Quality is measured on real or synthetic noisy/clean pairs: wide-band
PESQ of the FP32 and INT8 outputs against the clean reference, and the SNR of the INT8 output against the
FP32 output (how far quantisation moves the output, meaningful even for an untrained net).
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from voipdns.export.metadata import read_metadata, set_metadata
from voipdns.export.runtime import OnnxNet

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


#: Recurrent and dense layers only by default: ONNX Runtime's dynamic ConvInteger is slower than its FP32
#: Conv on CPU (dns48: RTF 0.37 with convs quantised vs 0.18 without and 0.24 FP32, see bench/README.md).
DEFAULT_OP_TYPES = ("MatMul", "Gemm", "LSTM", "GRU")


def quantize_int8(
    source: str | Path, target: str | Path | None = None, op_types: tuple[str, ...] | None = DEFAULT_OP_TYPES
) -> Path:
    """Writes the INT8 version of ``source`` (default ``<name>.int8.onnx``) with the metadata carried over.

    ``op_types``: node types whose weights are quantised (None: every type the quantiser supports, Conv too).
    """
    source = Path(source)
    target = Path(target) if target else int8_path(source)
    values = read_metadata(source)
    options = {"op_types_to_quantize": list(op_types)} if op_types else {}
    with _quiet_root_logger():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, **options)
    model = onnx.load(str(target))
    set_metadata(model, {**values, "quantization": "int8_dynamic"})
    onnx.save(model, str(target))
    return target


def quality_clips(count: int, seconds: float, sample_rate: int, shared_data: str | Path | None = None):
    """``count`` (name, clean, noisy) pairs: real VoiceBank-DEMAND pairs when present, else synthetic ones."""
    if shared_data and (Path(shared_data) / PAIRS_SUBDIR / "clean").is_dir():
        from voipdns.audio import load_audio

        folder = Path(shared_data) / PAIRS_SUBDIR
        names = sorted(p.name for p in (folder / "clean").glob("*.wav"))[:count]
        return [
            (name, load_audio(folder / "clean" / name, sample_rate)[0].numpy(),
             load_audio(folder / "noisy" / name, sample_rate)[0].numpy())
            for name in names
        ]  # fmt: skip
    from voipdns.data.synthetic import SyntheticSpeechDataset

    data = SyntheticSpeechDataset(
        num_items=count, segment_seconds=seconds, sample_rate=sample_rate, seed=1234
    )
    return [
        (item["name"], item["clean"][0].numpy(), item["noisy"][0].numpy())
        for item in (data[i] for i in range(count))
    ]


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


def _snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    noise = float(np.sum((reference - estimate) ** 2))
    return 10.0 * math.log10(float(np.sum(reference**2)) / noise) if noise > 0 else float("inf")


def _pesq_or_nan(clean: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    from voipdns.metrics.intrusive import pesq_wb

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
                "snr_db": _snr_db(out32, out8),
            }
        )
    return report
