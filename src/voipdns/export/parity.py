"""ONNX Runtime vs PyTorch on the same inputs: max absolute difference per length, failing above tolerance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from voipdns.export.runtime import OnnxNet
from voipdns.models.base import EnhancementNet


class ParityError(AssertionError):
    """The exported graph's output differs from the PyTorch net by more than the tolerance."""


@dataclass
class ParityReport:
    path: str
    tolerance: float
    rows: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, samples, max |diff|)

    @property
    def max_abs_diff(self) -> float:
        return max((row[2] for row in self.rows), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def lines(self) -> list[str]:
        out = [f"ONNX Runtime vs PyTorch ({self.path}), tolerance {self.tolerance:.1e}:"]
        out += [
            f"  {seconds:6.3f} s ({samples:6d} samples): max |diff| {diff:.3e}" for seconds, samples, diff in self.rows
        ]
        out.append(f"  {'PASS' if self.passed else 'FAIL'} (max {self.max_abs_diff:.3e})")
        return out

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise ParityError("\n".join(self.lines()))


def test_signal(samples: int, sample_rate: int, seed: int) -> torch.Tensor:
    """Noise with a speech-like level contour and a tone: exercises normalisation and pitch paths."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / sample_rate
    envelope = 0.05 + 0.1 * torch.sin(2 * torch.pi * 3.0 * t).abs()
    tone = 0.05 * torch.sin(2 * torch.pi * 180.0 * t)
    return (envelope * torch.randn(samples, generator=generator) + tone).view(1, 1, -1)


@torch.inference_mode()
def check_parity(
    net: EnhancementNet,
    onnx_path: str | Path,
    lengths_seconds: Sequence[float] = (0.37, 1.0, 2.13),
    tolerance: float = 1e-4,
    threads: int = 1,
) -> ParityReport:
    """Runs ``net`` and the exported file on a test signal of each length (several lengths, one file)."""
    model = OnnxNet(onnx_path, threads)
    report = ParityReport(str(onnx_path), float(tolerance))
    for index, seconds in enumerate(lengths_seconds):
        samples = max(int(round(seconds * net.sample_rate)), 2)
        noisy = test_signal(samples, net.sample_rate, seed=index)
        expected = net.eval()(noisy)
        actual = model.enhance(noisy)
        if actual.shape != expected.shape:
            raise ParityError(f"{onnx_path}: output shape {list(actual.shape)} != PyTorch {list(expected.shape)}")
        report.rows.append((samples / net.sample_rate, samples, float((actual - expected).abs().max())))
    return report
