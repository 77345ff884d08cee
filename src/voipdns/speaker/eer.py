"""Equal error rate of a speaker-verification trial list (all pairs of embeddings)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def equal_error_rate(scores: torch.Tensor, is_target: torch.Tensor) -> tuple[float, float]:
    """EER (fraction) and its threshold for trial ``scores`` (higher = same speaker) and boolean labels."""
    scores, is_target = scores.flatten().double(), is_target.flatten().bool()
    n_target, n_nontarget = int(is_target.sum()), int((~is_target).sum())
    if n_target == 0 or n_nontarget == 0:
        raise ValueError(f"EER needs target and non-target trials, got {n_target} and {n_nontarget}")
    order = torch.argsort(scores, descending=True)
    sorted_target = is_target[order].double()
    # Accept the top-k trials: false rejects = targets below, false accepts = non-targets above.
    false_reject = 1.0 - torch.cumsum(sorted_target, 0) / n_target
    false_accept = torch.cumsum(1.0 - sorted_target, 0) / n_nontarget
    index = int(torch.argmin((false_reject - false_accept).abs()))
    eer = 0.5 * float(false_reject[index] + false_accept[index])
    return eer, float(scores[order][index])


def pairwise_trials(embeddings: torch.Tensor, speakers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine scores and same-speaker labels for every unordered pair of ``embeddings[N, D]``."""
    normed = F.normalize(embeddings, dim=-1)
    scores = normed @ normed.T
    rows, cols = torch.triu_indices(len(speakers), len(speakers), offset=1)
    return scores[rows, cols], speakers[rows] == speakers[cols]
