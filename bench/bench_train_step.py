"""Training-step throughput: voipdns Demucs vs the reference ``denoiser`` 0.1.5 Demucs, side by side.

Same weights, same batch, same thread count, a plain PyTorch loop (forward, L1 loss, backward, Adam step).
Steps alternate between the two nets so machine load affects both alike; the median step time is compared.

    nice .venv/bin/python bench/bench_train_step.py --hidden 48 --batch 4 --seconds 1 --steps 6 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from machine import machine_info
from torch.nn import functional as F


def build_pair(hidden: int):
    from denoiser.demucs import Demucs as ReferenceDemucs

    from voipdns.models.demucs import Demucs

    torch.manual_seed(0)
    ours = Demucs(hidden=hidden)
    reference = ReferenceDemucs(hidden=hidden)
    reference.load_state_dict(ours.state_dict())
    return ours.train(), reference.train()


def timed_step(net, optimizer, noisy, clean) -> float:
    started = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = F.l1_loss(net(noisy), clean)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=48, help="48 = dns48")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0, help="segment length")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per net (after 1 warm-up step)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ours, reference = build_pair(args.hidden)
    samples = int(args.seconds * 16000)
    generator = torch.Generator().manual_seed(1)
    clean = 0.1 * torch.randn(args.batch, 1, samples, generator=generator)
    noisy = clean + 0.05 * torch.randn(args.batch, 1, samples, generator=generator)
    nets = {"voipdns": ours, "denoiser": reference}
    optimizers = {name: torch.optim.Adam(net.parameters(), lr=3e-4) for name, net in nets.items()}
    times: dict[str, list[float]] = {name: [] for name in nets}
    for name, net in nets.items():  # warm-up (allocator, MKL-DNN primitives)
        timed_step(net, optimizers[name], noisy, clean)
    for _ in range(args.steps):
        for name, net in nets.items():
            times[name].append(timed_step(net, optimizers[name], noisy, clean))
    print(f"machine: {machine_info(('torch',), args.threads)}")
    print(f"Demucs hidden {args.hidden}, batch {args.batch} x {args.seconds:g} s, {args.steps} steps each")
    median = {name: statistics.median(values) for name, values in times.items()}
    for name in nets:
        rate = args.batch * args.seconds / median[name]
        print(f"  {name:8s}: median step {1000 * median[name]:8.1f} ms  ({rate:6.2f} s of audio / s)")
    print(f"  throughput ratio voipdns / denoiser: {median['denoiser'] / median['voipdns']:.2f}x (goal >= 1.0)")


if __name__ == "__main__":
    main()
