"""Loss-weight schedules: ``schedule(step) -> multiplier`` for a term's ``weight_at(step)``.

``CompositeLoss`` multiplies a term's configured weight by ``term.weight_at(step)``; a TAP weight that is high
from the first step can diverge (TAPLoss paper), so it warms up with one of these.
"""

from __future__ import annotations

import math


def _check_steps(name: str, steps: int) -> int:
    if int(steps) < 0:
        raise ValueError(f"{name} must be >= 0 steps, got {steps}")
    return int(steps)


class ConstantRamp:
    """``value`` at every step."""

    def __init__(self, value: float = 1.0):
        self.value = float(value)

    def __call__(self, step: int) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"ConstantRamp(value={self.value})"


class LinearWarmup:
    """0 until ``delay_steps``, then ``start -> 1`` linearly over ``warmup_steps``, then 1."""

    def __init__(self, warmup_steps: int, start: float = 0.0, delay_steps: int = 0):
        self.warmup_steps = _check_steps("warmup_steps", warmup_steps)
        self.delay_steps = _check_steps("delay_steps", delay_steps)
        self.start = float(start)

    def progress(self, step: int) -> float:
        if self.warmup_steps == 0:
            return 1.0
        return min(max((step - self.delay_steps) / self.warmup_steps, 0.0), 1.0)

    def __call__(self, step: int) -> float:
        if step < self.delay_steps:
            return 0.0
        return self.start + (1.0 - self.start) * self.progress(step)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(warmup_steps={self.warmup_steps}, start={self.start}, delay_steps={self.delay_steps})"


class CosineWarmup(LinearWarmup):
    """Like ``LinearWarmup`` but along half a cosine: slow start, slow arrival at 1."""

    def __call__(self, step: int) -> float:
        if step < self.delay_steps:
            return 0.0
        shape = 0.5 * (1.0 - math.cos(math.pi * self.progress(step)))
        return self.start + (1.0 - self.start) * shape


class DelayedStart:
    """0 before ``start_step``, ``value`` from it on (e.g. fine-tune with the base loss first)."""

    def __init__(self, start_step: int, value: float = 1.0):
        self.start_step = _check_steps("start_step", start_step)
        self.value = float(value)

    def __call__(self, step: int) -> float:
        return self.value if step >= self.start_step else 0.0

    def __repr__(self) -> str:
        return f"DelayedStart(start_step={self.start_step}, value={self.value})"
