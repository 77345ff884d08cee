"""The streaming capability table: which streamer runs which net, and ``streamer_for(net)``.

Adding a streamable model = its streamer module in this package (a ``Streamer`` whose core is a
``StreamingCore``) plus one entry in ``STREAMERS``. A subclass streams as its nearest registered base
(PPN and UPN as PercepNet). Loading a streamer from a model spec (registry name, checkpoint, streaming
``.onnx``) is ``voipdns.enhancers.load_streamer``: this package knows no ONNX.
"""

from __future__ import annotations

from voipdns.class_table import class_names, entry_for
from voipdns.models.base import EnhancementNet
from voipdns.models.demucs import Demucs
from voipdns.models.fullsubnet import FullSubNet
from voipdns.models.gtcrn import GTCRN
from voipdns.models.percepnet import PercepNet
from voipdns.streaming.base import StepRunner, Streamer
from voipdns.streaming.demucs import DemucsStreamer
from voipdns.streaming.fullsubnet import FullSubNetStreamer
from voipdns.streaming.gtcrn import GTCRNStreamer
from voipdns.streaming.percepnet import PercepNetStreamer

#: net class -> streamer class, called as ``streamer(net, runner=runner, **options)``.
STREAMERS: dict[type[EnhancementNet], type[Streamer]] = {
    Demucs: DemucsStreamer,
    FullSubNet: FullSubNetStreamer,
    GTCRN: GTCRNStreamer,
    PercepNet: PercepNetStreamer,
}


class NotStreamableError(ValueError):
    """A net voipdns has no streamer for (the message lists the ones it has)."""


def known_options() -> dict[str, object]:
    """Every streaming option any streamer takes, with its default (one config serves every model)."""
    return {key: value for streamer in STREAMERS.values() for key, value in streamer.options.items()}


def _options_for(streamer: type[Streamer], net: EnhancementNet, options: dict) -> dict:
    """The options ``streamer`` takes; the others must be unknown to none and at their default values."""
    defaults = known_options()
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"unknown streaming options {unknown}; known: {sorted(defaults)}")
    foreign = sorted(key for key, value in options.items() if key not in streamer.options and value != defaults[key])
    if foreign:
        owners = class_names({cls: s for cls, s in STREAMERS.items() if set(foreign) & set(s.options)})
        raise ValueError(f"streaming options {foreign} only apply to {', '.join(owners)}, not {type(net).__name__}")
    return {key: value for key, value in options.items() if key in streamer.options}


def streamer_for(net: EnhancementNet, runner: StepRunner | None = None, **options) -> Streamer:
    """The streamer of ``net`` from ``STREAMERS``; ``options`` (e.g. Demucs' ``lookahead_samples``) as
    ``known_options()`` lists them: a streamer that does not take one accepts it only at its default."""
    streamer = entry_for(STREAMERS, net)
    if streamer is None:
        raise NotStreamableError(
            f"no streamer for {type(net).__name__}: streaming exists for {', '.join(class_names(STREAMERS))} "
            "(and their subclasses; causal Demucs, causal FullSubNet with cumulative_laplace norms)"
        )
    return streamer(net, runner=runner, **_options_for(streamer, net, options))


def accepted_options(net: EnhancementNet, options: dict) -> dict:
    """The subset of ``options`` that the streamer of ``net`` takes (for CLIs offering Demucs-only knobs)."""
    streamer = entry_for(STREAMERS, net)
    return {key: value for key, value in options.items() if streamer is not None and key in streamer.options}
