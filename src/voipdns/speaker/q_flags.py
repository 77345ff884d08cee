"""UPN per-frame personalisation flags q_t for training sequences.

Each sequence is all 1 (personalised), all 0 (plain denoising), or switches value once or twice with every
constant run lasting at least ``min_hold_frames`` (200 frames = 2 s at 10 ms hops, as in the UPN recipe).
Deterministic given a ``torch.Generator``.
"""

from __future__ import annotations

import torch


def _switch_points(frames: int, switches: int, min_hold: int, generator: torch.Generator) -> list[int]:
    """Switch positions such that every run is >= min_hold: draw the slack and spread it over the runs."""
    runs = switches + 1
    slack = frames - runs * min_hold
    # Sorted uniform cut points of the slack (stars and bars) give random extra lengths per run.
    cuts = torch.sort(torch.randint(0, slack + 1, (switches,), generator=generator)).values.tolist()
    extras = [b - a for a, b in zip([0, *cuts], [*cuts, slack], strict=False)]
    points, position = [], 0
    for extra in extras[:-1]:
        position += min_hold + extra
        points.append(position)
    return points


def draw_q(
    frames: int,
    generator: torch.Generator | None = None,
    min_hold_frames: int = 200,
    probabilities: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3),
) -> torch.Tensor:
    """``q[frames]`` (float 0/1): mode drawn with ``probabilities`` = (all 1, all 0, switching).

    Switching uses 1 or 2 switches (2 only when three runs of ``min_hold_frames`` fit); sequences too short
    for even one switch fall back to a constant value.
    """
    if frames < 1 or min_hold_frames < 1:
        raise ValueError(f"draw_q needs frames >= 1 and min_hold_frames >= 1, got {frames}, {min_hold_frames}")
    probs = torch.tensor(probabilities, dtype=torch.float64)
    if probs.numel() != 3 or bool((probs < 0).any()) or float(probs.sum()) <= 0:
        raise ValueError(f"probabilities must be 3 non-negative weights (all-1, all-0, switch), got {probabilities}")
    mode = int(torch.multinomial(probs, 1, generator=generator))
    start = float(torch.randint(0, 2, (1,), generator=generator))
    max_switches = min(2, frames // min_hold_frames - 1)
    if mode == 2 and max_switches < 1:
        mode = 0 if start == 1.0 else 1
    if mode < 2:
        return torch.full((frames,), 1.0 if mode == 0 else 0.0)
    switches = int(torch.randint(1, max_switches + 1, (1,), generator=generator))
    q = torch.full((frames,), start)
    bounds = [0, *_switch_points(frames, switches, min_hold_frames, generator), frames]
    for run, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=False)):
        q[lo:hi] = start if run % 2 == 0 else 1.0 - start
    return q


def run_lengths(q: torch.Tensor) -> list[int]:
    """Lengths of the constant runs of a 1-D flag tensor (for checks and logging)."""
    change = torch.nonzero(q[1:] != q[:-1]).flatten() + 1
    bounds = [0, *change.tolist(), q.numel()]
    return [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
