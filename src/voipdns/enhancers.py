"""Turn a model spec from the command line into ``numpy chunk -> numpy chunk``.

A spec is a registry name (``dns48``), a checkpoint path (official or voipdns), an exported ``.onnx`` file
(offline or streaming graph), or ``input`` (no processing, to score the unprocessed input). ``stream=True``
runs the causal streamer frame by frame instead of whole chunks (what a live call would hear).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voipdns.inference import torch_enhancer

#: the spec that means "no model": evaluates the unprocessed input
IDENTITY_SPEC = "input"


@dataclass
class Enhancer:
    name: str
    sample_rate: int
    enhance: Callable[[np.ndarray], np.ndarray]


def load_enhancer(spec: str, device: str = "cpu", sample_rate: int = 16000, stream: bool = False) -> Enhancer:
    if spec == IDENTITY_SPEC:
        return Enhancer(IDENTITY_SPEC, sample_rate, lambda chunk: np.array(chunk, dtype=np.float32, copy=True))
    # deferred imports: each path needs only its own runtime
    if stream:
        from voipdns.streaming import load_streamer, stream_enhancer

        return stream_enhancer(load_streamer(spec))
    if str(spec).endswith(".onnx"):
        from voipdns.export.runtime import onnx_enhancer

        return onnx_enhancer(spec)
    from voipdns.pretrained import load_net

    net = load_net(spec)
    return Enhancer(str(spec), int(net.sample_rate), torch_enhancer(net, device))
