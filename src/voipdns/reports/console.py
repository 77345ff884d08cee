"""Console summaries: the unprocessed input next to the enhanced output, so every run shows its improvement.

No pandas: ``voipdns-train`` prints this table at the end of every run."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def improvement_table(metrics: Mapping[str, float], names: Iterable[str], stage: str = "test") -> str:
    """Rows ``metric | input | enhanced | delta`` for the metrics present as ``<stage>/<m>`` and ``<stage>/input_<m>``
    (or ``input/<m>``). Empty string when nothing was scored."""
    rows = []
    for name in names:
        enhanced = metrics.get(f"{stage}/{name}")
        noisy = metrics.get(f"{stage}/input_{name}", metrics.get(f"input/{name}"))
        if enhanced is None:
            continue
        delta = enhanced - noisy if noisy is not None and math.isfinite(noisy) else math.nan
        rows.append((name, noisy if noisy is not None else math.nan, enhanced, delta))
    if not rows:
        return ""
    lines = [f"{'metric':<10}{'input':>10}{'enhanced':>10}{'delta':>10}", "-" * 40]
    lines += [f"{name:<10}{noisy:>10.3f}{enhanced:>10.3f}{delta:>+10.3f}" for name, noisy, enhanced, delta in rows]
    return "\n".join(lines)
