"""How reports name metrics: display label, unit, direction and scale of every scorer output.

Plots put the unit and the direction on each axis (``SI-SDR (dB), higher is better``) and draw bars from the
bottom of a metric's scale (a MOS starts at 1, not 0). A metric missing here is shown by its key, without
unit or direction, rather than with a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str = ""
    higher_is_better: bool | None = None  # None: no direction (unknown metric)
    scale: tuple[float, float] | None = None  # the metric's possible range; None when unbounded
    full_scale_axis: bool = False  # plots show the whole scale (MOS 1-5), else bottom of scale to the data


def _mos(label: str, top: float = 5.0) -> MetricInfo:
    return MetricInfo(label, "MOS", True, (1.0, top), full_scale_axis=True)


METRICS: dict[str, MetricInfo] = {
    # ITU-T P.862.2 maps wide-band PESQ to MOS-LQO 1.02-4.64; P.862.1 narrow-band to 1.02-4.55.
    "pesq_wb": MetricInfo("PESQ-WB", "MOS-LQO", True, (1.0, 4.64)),
    "pesq_nb": MetricInfo("PESQ-NB", "MOS-LQO", True, (1.0, 4.55)),
    "stoi": MetricInfo("STOI", "0-1", True, (0.0, 1.0)),
    "estoi": MetricInfo("ESTOI", "0-1", True, (0.0, 1.0)),
    "si_sdr": MetricInfo("SI-SDR", "dB", True),
    "dnsmos_sig": _mos("DNSMOS SIG"),
    "dnsmos_bak": _mos("DNSMOS BAK"),
    "dnsmos_ovrl": _mos("DNSMOS OVRL"),
    "dnsmos_p808": _mos("DNSMOS P.808"),
    "pdnsmos_sig": _mos("pDNSMOS SIG"),
    "pdnsmos_bak": _mos("pDNSMOS BAK"),
    "pdnsmos_ovrl": _mos("pDNSMOS OVRL"),
    "plcmos": _mos("PLCMOS"),
    "egemaps_mae_improvement": MetricInfo("eGeMAPS MAE improvement", "%", True),
    "loss": MetricInfo("loss", "", False),
}


def metric_info(metric: str) -> MetricInfo:
    return METRICS.get(metric, MetricInfo(metric))


def metric_label(metric: str) -> str:
    """``PESQ-WB``, ``SI-SDR``; the key itself for metrics without a display name."""
    return metric_info(metric).label


def direction_text(metric: str) -> str:
    higher = metric_info(metric).higher_is_better
    return "" if higher is None else ("higher is better" if higher else "lower is better")


def axis_label(metric: str) -> str:
    """``SI-SDR (dB)\\n↑ higher is better``: label, unit and direction for a plot axis."""
    info = metric_info(metric)
    text = f"{info.label} ({info.unit})" if info.unit else info.label
    direction = direction_text(metric)
    if direction:
        arrow = "↑" if info.higher_is_better else "↓"
        text += f"\n{arrow} {direction}"
    return text
