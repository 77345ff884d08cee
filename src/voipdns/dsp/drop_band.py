"""FullSubNet's "drop band" training trick: each batch item keeps only every ``groups``-th frequency.

Item ``b`` keeps frequencies ``g, g + groups, ...`` with ``g = b % groups``; the items are regrouped by ``g``
(all items of group 0 first, ...). Trailing frequencies that do not fill a group are dropped (257 -> 256).
Applying the same function to the network input and to the training target keeps them aligned, and the
sub-band network runs on ``1 / groups`` of the frequencies. Only meaningful while training.
"""

from __future__ import annotations

import torch


def drop_band(x: torch.Tensor, groups: int) -> torch.Tensor:
    """``[B, C, F, frames] -> [B, C, F // groups, frames]`` (batch order regrouped as described above)."""
    if groups <= 1:
        return x
    batch, _, freqs, _ = x.shape
    if batch <= groups:
        raise ValueError(f"drop_band needs a batch larger than its {groups} groups, got batch {batch}")
    usable = freqs - freqs % groups
    parts = [x[group::groups, :, group:usable:groups] for group in range(groups)]
    return torch.cat(parts, dim=0)
