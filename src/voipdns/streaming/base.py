"""What every streamer shares: a step core with explicit state, the runner that executes it, timing.

A streaming model is split in two:

* a **core** (``StreamingCore``, an ``nn.Module``): one step ``forward(*inputs, *states) -> (*outputs,
  *new_states)`` on fixed-size tensors. Everything the model remembers between steps is an explicit state
  tensor, so the same module runs in PyTorch or, exported, as an ONNX graph with state inputs/outputs.
* a **streamer** (``Streamer``): numpy samples in, numpy samples out, any chunk size; it buffers input,
  runs the core through a ``StepRunner`` (PyTorch or ONNX Runtime) and does the signal processing around it.

Output alignment: ``feed`` returns enhanced samples in input order without the initial delay, and
``flush`` returns the rest, so ``feed(x) + flush()`` has exactly ``len(x)`` samples aligned with ``x``.
``latency_samples`` is how many input samples must have arrived before the first output sample is returned.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from voipdns.rates import DEFAULT_SAMPLE_RATE


class StreamingCore(nn.Module):
    """One streaming step with explicit state; subclasses set the three name tuples."""

    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()
    #: False: the exported step graph has batch 1 fixed (every streamer runs batch 1), so ONNX Runtime folds the
    #: shape arithmetic a dynamic batch axis keeps in the graph (GTCRN: 348 instead of 593 nodes per step).
    dynamic_batch: bool = True

    def example_inputs(self, batch: int = 1) -> list[torch.Tensor]:
        """Zero inputs of the step's shapes (for export and warm-up)."""
        raise NotImplementedError

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        """The state before the first step (what the core needs to behave like the offline net at t = 0)."""
        raise NotImplementedError

    def state_batch_axes(self) -> dict[str, int]:
        """Axis of each state tensor that scales with the batch (for ONNX dynamic axes); default 0."""
        return {name: 0 for name in self.state_names}

    def export_metadata(self) -> dict[str, str]:
        """Extra key/values stored in an exported streaming graph (what the runtime needs to rebuild it)."""
        return {}


class StepRunner(ABC):
    """Executes a core step: ``(inputs, states) -> (outputs, new_states)``, all torch tensors."""

    @abstractmethod
    def __call__(
        self, inputs: Sequence[torch.Tensor], states: Sequence[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]: ...


class TorchStepRunner(StepRunner):
    def __init__(self, core: StreamingCore):
        self.core = core.eval()
        self.num_outputs = len(core.output_names)

    @torch.inference_mode()
    def __call__(self, inputs, states):
        result = self.core(*inputs, *states)
        return list(result[: self.num_outputs]), list(result[self.num_outputs :])


@dataclass
class FrameTimer:
    """Wall-clock seconds of each step (analysis + core + synthesis)."""

    seconds: list[float] = field(default_factory=list)

    def start(self) -> float:
        return time.perf_counter()

    def stop(self, started: float) -> None:
        self.seconds.append(time.perf_counter() - started)

    def summary_ms(self) -> dict[str, float]:
        if not self.seconds:
            return {"frames": 0, "mean_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
        ms = 1000.0 * np.asarray(self.seconds)
        return {
            "frames": int(ms.size),
            "mean_ms": float(ms.mean()),
            "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()),
        }


class Streamer(ABC):
    """Mono streaming enhancer: ``feed(chunk) -> ready samples``, ``flush() -> the rest``.

    Attributes set by subclasses: ``name``, ``sample_rate`` (Hz), ``hop_samples`` (input samples per step),
    ``latency_samples`` (input samples before the first output sample). ``options``: the keyword options
    the constructor takes besides ``net`` and ``runner``, with their defaults (see ``streaming.factory``).
    """

    name: str = "streamer"
    family: str = "streamer"  # the core's kind (demucs, fullsubnet, percepnet): names the ONNX graph
    sample_rate: int = DEFAULT_SAMPLE_RATE
    hop_samples: int = 1
    latency_samples: int = 0
    options: ClassVar[dict[str, object]] = {}

    def __init__(self) -> None:
        self.timer = FrameTimer()
        self.samples_in = 0
        self.samples_out = 0

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_samples / self.sample_rate

    @property
    def frame_budget_ms(self) -> float:
        """Real-time budget of one step: the audio it consumes."""
        return 1000.0 * self.hop_samples / self.sample_rate

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        if not np.isfinite(chunk).all():
            raise ValueError(f"{self.name}: input chunk contains NaN/Inf samples")
        self.samples_in += chunk.size
        out = self._feed(chunk)
        self.samples_out += out.size
        return out

    def flush(self) -> np.ndarray:
        """Ends the stream: the remaining output, so the total output length equals the input length."""
        out = self._flush()[: max(self.samples_in - self.samples_out, 0)]
        self.samples_out += out.size
        return out

    def reset(self) -> None:
        self.timer = FrameTimer()
        self.samples_in = 0
        self.samples_out = 0
        self._reset()

    def process(self, audio: np.ndarray, chunk_samples: int | None = None) -> np.ndarray:
        """Streams a whole signal (in chunks of ``chunk_samples``, default one hop) from a fresh state."""
        self.reset()
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        step = chunk_samples or self.hop_samples
        parts = [self.feed(audio[start : start + step]) for start in range(0, audio.size, step)]
        parts.append(self.flush())
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    @abstractmethod
    def _feed(self, chunk: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _flush(self) -> np.ndarray: ...

    @abstractmethod
    def _reset(self) -> None: ...


def empty() -> np.ndarray:
    return np.zeros(0, dtype=np.float32)
