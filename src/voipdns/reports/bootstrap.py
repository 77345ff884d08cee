"""95 % confidence intervals of a mean by the percentile bootstrap over clips.

Clips are the unit of resampling (each clip's score is one draw), so an interval says how much the mean
would move with another set of clips of the same kind; 2 clips give a wide interval, 200 a narrow one.
The generator is seeded: the same scores give the same interval on every run. Fewer than 2 scored clips
give no interval (NaN): one value says nothing about its spread.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0
# resampled values held in memory at once (float64): bounds memory for the 'all conditions' row of big sets
_MAX_VALUES_AT_ONCE = 4_000_000


def bootstrap_ci(
    values: np.ndarray, confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float]:
    """(low, high) percentile-bootstrap interval of the mean of ``values``; NaN entries are left out."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return (np.nan, np.nan)
    if np.all(values == values[0]):
        return (float(values[0]), float(values[0]))
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_VALUES_AT_ONCE // values.size)
    means = np.concatenate(
        [
            values[rng.integers(0, values.size, size=(min(chunk, resamples - start), values.size))].mean(axis=1)
            for start in range(0, resamples, chunk)
        ]
    )
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return (float(low), float(high))
