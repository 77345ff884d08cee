"""How much arithmetic a net needs and how much this core can do: the floor under any real-time factor.

``multiply_adds(net, noisy)`` counts the multiply-adds of the layers that dominate these nets (convolutions,
transposed convolutions, linear layers, LSTM/GRU) with forward hooks; ``gemm_peak_gflops()`` times a large
FP32 matrix product (oneDNN/MKL, one thread), about the best a dense FP32 kernel reaches here. Their ratio
is the RTF an FP32 implementation of the net cannot beat on this core.
"""

from __future__ import annotations

import time

import torch
from torch import nn


def _rnn_multiply_adds(module: nn.RNNBase, steps: int) -> int:
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    directions = 2 if module.bidirectional else 1
    total, width = 0, module.input_size
    for _ in range(module.num_layers):
        total += directions * gates * module.hidden_size * (width + module.hidden_size)
        width = directions * module.hidden_size
    return steps * total


def _layer_multiply_adds(module: nn.Module, inputs: tuple, output) -> int:
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        per_output = module.in_channels // module.groups * int(torch.tensor(module.kernel_size).prod())
        return output.numel() * per_output
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        per_input = module.out_channels // module.groups * int(torch.tensor(module.kernel_size).prod())
        return inputs[0].numel() * per_input
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, nn.RNNBase):
        x = inputs[0]
        steps = x.shape[0] * x.shape[1] if x.dim() == 3 else x.shape[0]
        return _rnn_multiply_adds(module, steps)
    return 0


@torch.inference_mode()
def multiply_adds(net: nn.Module, noisy: torch.Tensor) -> int:
    """Multiply-adds of one forward pass of ``net`` on ``noisy`` (convs, linear, LSTM/GRU layers)."""
    counted = [0]

    def hook(module, inputs, output):
        counted[0] += _layer_multiply_adds(module, inputs, output)

    handles = [module.register_forward_hook(hook) for module in net.modules()]
    try:
        net(noisy)
    finally:
        for handle in handles:
            handle.remove()
    return counted[0]


def gemm_peak_gflops(size: int = 1024, repeats: int = 5) -> float:
    """Best FP32 GFLOP/s of a ``size``-square matrix product on the current torch thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9
