"""Streaming cores as ONNX graphs with explicit state inputs/outputs, and streamers that run them.

The graph of a core has inputs ``<input names> + <state names>`` and outputs ``<output names> +
<state names>_out`` (batch axes dynamic). The caller keeps the state: feed each step's ``*_out`` back as the
next step's state, starting from zeros (``initial_state``; shapes are in the file: state inputs' shapes).
The signal processing around the core (framing, STFT, pitch, overlap-add) runs in the streamer, rebuilt
from the net config stored in the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from voipdns.export.metadata import net_config_of, net_metadata, read_metadata, write_metadata
from voipdns.export.onnx_export import DEFAULT_OPSET, trace_to_onnx
from voipdns.export.parity import ParityReport, test_signal
from voipdns.export.runtime import build_skeleton, make_session
from voipdns.models.base import EnhancementNet
from voipdns.streaming.base import StepRunner, Streamer, StreamingCore
from voipdns.streaming.demucs import DEFAULT_LOOKAHEAD_SAMPLES
from voipdns.streaming.factory import streamer_for

STATE_SUFFIX = "_out"


def export_stream_onnx(
    streamer: Streamer, path: str | Path, name: str, config: dict, opset: int = DEFAULT_OPSET
) -> Path:
    """Writes ``streamer.core`` as a one-step ONNX graph; metadata says how to rebuild the streamer."""
    core: StreamingCore = streamer.core
    inputs = tuple(core.example_inputs(1)) + tuple(core.initial_state(1))
    output_states = tuple(f"{state}{STATE_SUFFIX}" for state in core.state_names)
    axes: dict[str, dict[int, str]] = {}
    if core.dynamic_batch:  # else batch 1 is fixed in the graph
        axes = {name: {0: "batch"} for name in (*core.input_names, *core.output_names)}
        for state, axis in core.state_batch_axes().items():
            if axis >= 0:
                axes[state] = axes[f"{state}{STATE_SUFFIX}"] = {axis: "batch"}
    if "samples_left" in axes:  # per-stream scalars
        del axes["samples_left"]
    trace_to_onnx(
        core,
        inputs,
        path,
        core.input_names + core.state_names,
        core.output_names + output_states,
        axes,
        opset,
    )
    net: EnhancementNet = core.net
    values = net_metadata(net, name, config, f"stream_{streamer.family}")
    values.update(
        {
            "hop_samples": str(streamer.hop_samples),
            "latency_samples": str(streamer.latency_samples),
            "stream.inputs": json.dumps(list(core.input_names)),
            "stream.outputs": json.dumps(list(core.output_names)),
            "stream.states": json.dumps(list(core.state_names)),
            **core.export_metadata(),
        }
    )
    write_metadata(path, values)
    return Path(path)


class OnnxStepRunner(StepRunner):
    """Runs a core step in ONNX Runtime (numpy in/out, wrapped as torch tensors without copies)."""

    def __init__(self, path: str | Path, threads: int = 1, optimization: str = "all", metadata: dict | None = None):
        self.session = make_session(path, threads, optimization)
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.num_outputs = len(json.loads((metadata or read_metadata(path))["stream.outputs"]))

    def __call__(self, inputs, states):
        feed = {
            name: np.ascontiguousarray(value.detach().numpy(), dtype=np.float32)
            for name, value in zip(self.input_names, (*inputs, *states), strict=True)
        }
        results = [torch.from_numpy(out) for out in self.session.run(None, feed)]
        return results[: self.num_outputs], results[self.num_outputs :]


def load_onnx_streamer(path: str | Path, threads: int = 1, metadata: dict | None = None, **options) -> Streamer:
    """The streamer of an exported streaming graph (``options``: e.g. ``extra_frames`` for Demucs).

    ``metadata``: the file's ``read_metadata`` when the caller has read it already (it is read once)."""
    values = metadata or read_metadata(path)
    if not values["graph"].startswith("stream_"):
        raise ValueError(
            f"{path} is an offline graph ({values['graph']}); export a streaming one with voipdns-export stream=true"
        )
    net = build_skeleton(net_config_of(values), str(path))
    if "stream.lookahead_samples" in values:  # fixed by the graph's input size
        exported = int(values["stream.lookahead_samples"])
        requested = options.get("lookahead_samples", exported)
        if requested not in (exported, DEFAULT_LOOKAHEAD_SAMPLES):
            raise ValueError(f"{path} was exported with lookahead_samples={exported}, not {requested}")
        options["lookahead_samples"] = exported
    return streamer_for(net, runner=OnnxStepRunner(path, threads, metadata=values), **options)


def check_stream_parity(
    streamer: Streamer, onnx_path: str | Path, seconds: float = 1.5, tolerance: float = 1e-4, **options
):
    """PyTorch streamer vs the same streamer running the exported graph, on a test signal (ParityReport)."""
    samples = max(int(seconds * streamer.sample_rate), 2)
    signal = test_signal(samples, streamer.sample_rate, seed=0).view(-1).numpy()
    expected = streamer.process(signal)
    loaded = load_onnx_streamer(onnx_path, **options)
    if getattr(streamer, "embedding", None) is not None:  # PPN/UPN: the same enrolled speaker
        loaded.set_speaker_embedding(streamer.embedding)
    actual = loaded.process(signal)
    report = ParityReport(str(onnx_path), float(tolerance))
    report.rows.append((samples / streamer.sample_rate, samples, float(np.abs(actual - expected).max())))
    return report
