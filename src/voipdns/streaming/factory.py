"""Pick the streamer for a net, or load one from a model spec (registry name, checkpoint, streaming .onnx)."""

from __future__ import annotations

from pathlib import Path

from voipdns.models.base import EnhancementNet
from voipdns.streaming.base import StepRunner, Streamer


class NotStreamableError(ValueError):
    """A net voipdns has no streamer for (the message lists the ones it has)."""


def streamer_for(net: EnhancementNet, runner: StepRunner | None = None, **options) -> Streamer:
    """The streamer class matching ``net``.

    ``options`` (``lookahead_samples``, ``extra_frames``) tune the Demucs streamer; other nets take them only
    at their default values (so one config can serve every model).
    """
    from voipdns.models.demucs import Demucs
    from voipdns.models.fullsubnet import FullSubNet
    from voipdns.models.percepnet import PercepNet

    if isinstance(net, Demucs):
        from voipdns.streaming.demucs import DemucsStreamer

        return DemucsStreamer(net, runner=runner, **options)
    from voipdns.streaming.demucs import DEFAULT_LOOKAHEAD_SAMPLES

    defaults = {"lookahead_samples": DEFAULT_LOOKAHEAD_SAMPLES, "extra_frames": 0}
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"unknown streaming options {unknown}; known: {sorted(defaults)}")
    demucs_only = sorted(key for key, value in options.items() if value != defaults[key])
    if demucs_only:
        raise ValueError(f"streaming options {demucs_only} only apply to Demucs, not {type(net).__name__}")
    if isinstance(net, FullSubNet):
        from voipdns.streaming.fullsubnet import FullSubNetStreamer

        return FullSubNetStreamer(net, runner=runner)
    if isinstance(net, PercepNet):
        from voipdns.streaming.percepnet import PercepNetStreamer

        return PercepNetStreamer(net, runner=runner)
    raise NotStreamableError(
        f"no streamer for {type(net).__name__}: streaming exists for causal Demucs, causal FullSubNet "
        "(cumulative_laplace norms) and PercepNet/PPN/UPN"
    )


def load_streamer(spec: str | Path, threads: int = 1, **options) -> Streamer:
    """A streamer from a registry name, a checkpoint or a streaming ONNX file (voipdns-export stream=true)."""
    if str(spec).endswith(".onnx"):
        from voipdns.streaming.onnx import load_onnx_streamer

        return load_onnx_streamer(spec, threads, **options)
    from voipdns.export.source import load_model

    return streamer_for(load_model(spec).net, **options)
