"""Report figures as a reader sees them: units and direction on the axes, 95 % intervals as error bars, clip
counts under the groups, scale-aware ranges, the legend outside the bars, the title on every figure, PNG + PDF
+ SVG, and the eGeMAPS plot grouped by feature family with one panel per condition on request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from voipdns.reports.bootstrap import bootstrap_ci
from voipdns.reports.egemaps import egemaps_improvement
from voipdns.reports.egemaps_plot import egemaps_figure
from voipdns.reports.plots import metric_figure
from voipdns.reports.runs import INPUT_MODEL, LONG_COLUMNS
from voipdns.reports.table import summarize_conditions
from voipdns.reports.write import write_report

# gm_cloud_low has 2 clips, zm_phone_auto 5: the figure must say so
CLIPS = {"gm_cloud_low": 2, "zm_phone_auto": 5}
BASES = {"pesq_wb": 1.6, "si_sdr": -1.0, "dnsmos_ovrl": 2.5}


def long_table(metrics=BASES, models=(INPUT_MODEL, "dns48"), spread=0.2) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    records = []
    for model_index, model in enumerate(models):
        for condition, clips in CLIPS.items():
            for clip in range(clips):
                for metric, base in metrics.items():
                    value = base + 0.3 * model_index + spread * rng.standard_normal()
                    records.append((model, condition, f"fileid_{clip}", metric, value))
    return pd.DataFrame.from_records(records, columns=LONG_COLUMNS)


def _bars_and_errors(axes, model_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bar tops, error-bar bottoms, error-bar tops) of the model's bars."""
    container = [c for c in axes.containers if isinstance(c, BarContainer)][model_index]
    tops = np.array([patch.get_y() + patch.get_height() for patch in container.patches])
    segments = container.errorbar.lines[2][0].get_segments()
    return tops, np.array([s[0][1] for s in segments]), np.array([s[1][1] for s in segments])


def test_bar_figure_units_direction_intervals_counts_and_title():
    summary = summarize_conditions(long_table())
    figure = metric_figure(summary, "pesq_wb", title="VoIP-DNS test set")
    axes = figure.axes[0]
    assert "PESQ-WB (MOS-LQO)" in axes.get_ylabel() and "higher is better" in axes.get_ylabel()
    assert figure.get_suptitle() == "VoIP-DNS test set"
    tops, lows, highs = _bars_and_errors(axes, model_index=1)
    conditions = list(summary.mean.index)
    assert conditions == ["gm_cloud_low", "zm_phone_auto", "all"]
    np.testing.assert_allclose(tops, summary.mean[("dns48", "pesq_wb")].to_numpy())
    np.testing.assert_allclose(lows, summary.ci_low[("dns48", "pesq_wb")].to_numpy())
    np.testing.assert_allclose(highs, summary.ci_high[("dns48", "pesq_wb")].to_numpy())
    ticks = [label.get_text() for label in axes.get_xticklabels()]
    assert ticks[0].endswith("n=2") and ticks[1].endswith("n=5") and ticks[2].endswith("n=7")
    assert "Google Meet\ncloud\ndenoise low" in ticks[0]
    assert axes.get_ylim()[0] == pytest.approx(1.0)  # PESQ bars start at the scale's bottom, not at 0


def test_scale_aware_ranges_and_units():
    summary = summarize_conditions(long_table())
    dnsmos = metric_figure(summary, "dnsmos_ovrl").axes[0]
    assert dnsmos.get_ylim() == pytest.approx((1.0, 5.0))
    si_sdr = metric_figure(summary, "si_sdr").axes[0]
    assert "SI-SDR (dB)" in si_sdr.get_ylabel()
    low, high = si_sdr.get_ylim()
    assert low < summary.ci_low[(INPUT_MODEL, "si_sdr")].min() and high > 0  # negative dB values stay visible


def test_legend_lies_outside_the_bars():
    figure = metric_figure(summarize_conditions(long_table()), "pesq_wb", title="t")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [INPUT_MODEL, "dns48"]
    assert not legend.overlaps(figure.axes[0].get_window_extent(renderer))


def test_report_writes_every_figure_as_png_pdf_and_svg_with_the_title(tmp_path):
    paths = write_report(long_table(), tmp_path, title="Paper figure 2")
    for metric in BASES:
        png = paths[f"bar_{metric}"]
        assert png.suffix == ".png" and png.stat().st_size > 5000
        assert paths[f"bar_{metric}_pdf"].read_bytes().startswith(b"%PDF")
        svg = paths[f"bar_{metric}_svg"].read_text()
        assert "Paper figure 2" in svg and "n=5" in svg  # text kept as text: editable, searchable


def _egemaps_table(models=(INPUT_MODEL, "dns48")) -> pd.DataFrame:
    """Input MAE 2.0 per feature; the model halves it on F0 and doubles it on loudness."""
    factors = {"F0semitoneFrom27.5Hz": 0.5, "Loudness": 2.0, "alphaRatio": 0.9, "mfcc1": 0.8}
    records = []
    for model in models:
        for condition, clips in CLIPS.items():
            for clip in range(clips):
                for feature, factor in factors.items():
                    value = 2.0 if model == INPUT_MODEL else 2.0 * factor
                    records.append((model, condition, f"fileid_{clip}", f"egemaps_mae_{feature}", value))
    return pd.DataFrame.from_records(records, columns=LONG_COLUMNS)


def test_egemaps_figure_groups_features_by_family_with_readable_names():
    improvement = egemaps_improvement(_egemaps_table())
    by_feature = improvement.set_index("feature")["improvement_pct"]
    assert by_feature["F0semitoneFrom27.5Hz"] == pytest.approx(50.0)
    assert by_feature["Loudness"] == pytest.approx(-100.0)
    figure = egemaps_figure(improvement, title="Fig. 3")
    families = [axes.get_ylabel() for axes in figure.axes]
    assert families == ["Frequency", "Energy /\namplitude", "Spectral\nbalance", "MFCC /\nflux"]
    names = [label.get_text() for axes in figure.axes for label in axes.get_yticklabels()]
    assert names == ["Pitch F0 (semitones)", "Loudness", "Alpha ratio", "MFCC 1"]
    assert "%" in figure.axes[-1].get_xlabel() and "higher is better" in figure.axes[-1].get_xlabel()
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["dns48"]  # one model is named too
    assert figure.get_suptitle() == "Fig. 3"


def test_egemaps_figure_has_one_panel_column_per_condition():
    improvement = egemaps_improvement(_egemaps_table(), by_condition=True)
    assert sorted(set(improvement["condition"])) == sorted(CLIPS)
    figure = egemaps_figure(improvement)
    assert len(figure.axes) == 4 * len(CLIPS)  # 4 families x 2 conditions
    titles = [axes.get_title() for axes in figure.axes[: len(CLIPS)]]
    assert titles == ["Google Meet / cloud / denoise low", "Zoom / phone / denoise auto"]


def test_bootstrap_interval_narrows_with_more_clips_and_needs_two():
    rng = np.random.default_rng(1)
    many = rng.normal(3.0, 0.5, 400)
    low, high = bootstrap_ci(many)
    assert low < many.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * many.std() / np.sqrt(many.size), rel=0.15)
    few_low, few_high = bootstrap_ci(many[:5])
    assert few_high - few_low > 3 * (high - low)
    assert bootstrap_ci(many) == (low, high)  # seeded: the same report twice gives the same interval
    assert all(np.isnan(bootstrap_ci(np.array([2.0, np.nan]))))  # one scored clip: no interval


def test_a_bar_without_interval_is_hatched_and_the_title_says_why():
    table = long_table(metrics={"pesq_wb": 1.6})
    only_one = (table["model"] == "dns48") & (table["condition"] == "gm_cloud_low") & (table["name"] == "fileid_0")
    table.loc[only_one, "value"] = np.nan  # gm_cloud_low keeps 1 scored clip for dns48
    summary = summarize_conditions(table)
    axes = metric_figure(summary, "pesq_wb").axes[0]
    bars = [c for c in axes.containers if isinstance(c, BarContainer)]
    assert [bar.get_hatch() for bar in bars[1].patches] == ["///", None, None]
    assert [bar.get_hatch() for bar in bars[0].patches] == [None, None, None]
    assert "fewer than 2 clips" in axes.get_title()
    assert "fewer than 2 clips" not in metric_figure(summarize_conditions(long_table()), "pesq_wb").axes[0].get_title()
