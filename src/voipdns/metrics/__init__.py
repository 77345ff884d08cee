"""Speech quality metrics: intrusive scores (PESQ, STOI, SI-SDR), a scorer registry, and a scoring pool.

Extra scorers (DNSMOS, PLCMOS, eGeMAPS, ...) register with :func:`register_scorer` in their own module,
``voipdns/metrics/<name>.py``, and are then usable by name everywhere a metric list is accepted.
"""

from voipdns.metrics.intrusive import DEFAULT_METRICS, estoi, pesq_nb, pesq_wb, si_sdr, stoi
from voipdns.metrics.pool import PoolResults, ScoringPool, score_many
from voipdns.metrics.scoring import (
    ClipScores,
    MetricFailure,
    ScorerSpec,
    available_scorers,
    get_scorer,
    output_names,
    register_scorer,
    score_clip,
)
from voipdns.metrics.summary import Summary, condition_means, summarize

__all__ = [
    "DEFAULT_METRICS",
    "ClipScores",
    "MetricFailure",
    "PoolResults",
    "ScorerSpec",
    "ScoringPool",
    "Summary",
    "available_scorers",
    "condition_means",
    "estoi",
    "get_scorer",
    "output_names",
    "pesq_nb",
    "pesq_wb",
    "register_scorer",
    "score_clip",
    "score_many",
    "si_sdr",
    "stoi",
    "summarize",
]
