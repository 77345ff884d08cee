"""Per-file results CSV (append, resume, torn lines), per-condition Table I summary, merging runs, plots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from voipdns import conditions as voip_conditions
from voipdns.cli.report import main as report_main
from voipdns.conditions import CONDITIONS as VOIP_CONDITIONS
from voipdns.conditions import find_condition, parse_condition
from voipdns.reports import (
    INPUT_MODEL,
    ResultsCsv,
    ScoreItem,
    load_runs,
    read_rows,
    score_folder,
    score_items,
    summarize_conditions,
    summary_markdown,
    write_report,
)
from voipdns.reports import conditions as report_conditions
from voipdns.reports.conditions import condition_cells
from voipdns.reports.results_csv import results_columns

KEYS = ["pesq_wb", "stoi", "egemaps_mae_Loudness", "egemaps_mae_F1frequency"]
CLIPS_PER_CONDITION = 3


def _value(model_offset: float, condition_index: int, clip: int, metric: str) -> float:
    """Deterministic fake scores: easy to average by hand."""
    bases = {"pesq_wb": 1.5, "stoi": 0.8, "egemaps_mae_Loudness": 0.2, "egemaps_mae_F1frequency": 100.0}
    base = bases[metric]
    return base + model_offset + 0.01 * condition_index + 0.001 * clip


def write_run(path, model_offset: float, failures: dict[tuple[str, int], str] | None = None, model: str = ""):
    """A results CSV over the 8 VoIP conditions; ``failures`` maps (condition, clip) -> metric made NaN."""
    failures = failures or {}
    results = ResultsCsv(path, results_columns(KEYS))
    for ci, condition in enumerate(VOIP_CONDITIONS):
        for clip in range(CLIPS_PER_CONDITION):
            row = {"name": f"fileid_{clip}", "condition": condition, "model": model}
            for key in KEYS:
                row[key] = _value(model_offset, ci, clip, key)
                row[f"input_{key}"] = _value(0.0, ci, clip, key) * (2.0 if key.startswith("egemaps") else 1.0)
            if (condition, clip) in failures:
                row[failures[(condition, clip)]] = math.nan
            results.append(row)
    return path


def test_one_condition_vocabulary_for_simulator_datasets_and_reports():
    assert find_condition("gm_cloud_low").key == "gm_cloud_low"
    assert find_condition("src_zm_phone_relay_auto").key == "zm_phone_auto"
    assert find_condition("nrm_gm_phone_relay_low").key == "gm_phone_low"
    assert find_condition("synthetic") is None
    platform, receiver, setting = parse_condition("zm_cloud_auto")  # unpacks like the old tuple
    assert (platform, receiver, setting) == ("zm", "cloud", "auto")
    with pytest.raises(ValueError, match="unknown VoIP-DNS condition 'src_gm_cloud_relay_low'"):
        parse_condition("src_gm_cloud_relay_low")  # strict: folder names are found, not parsed
    # reports only label the vocabulary; they define no platform, receiver or condition list of their own
    for name in ("PLATFORMS", "RECEIVERS", "SETTINGS", "CONDITIONS", "parse_condition", "find_condition"):
        assert getattr(report_conditions, name, None) in (None, getattr(voip_conditions, name)), name
    assert condition_cells("zm_phone_low") == ("Zoom", "phone", "low")
    assert condition_cells("no_reverb", voip=False) == ("no_reverb",)


def test_table_layout_means_and_nan_failures(tmp_path):
    csv = write_run(tmp_path / "a.csv", 0.5, failures={("zm_phone_low", 1): "pesq_wb"}, model="demucs")
    summary = summarize_conditions(load_runs([csv]), metrics=["pesq_wb", "stoi"])
    assert list(summary.mean.index) == [*VOIP_CONDITIONS, "all"]
    assert summary.models == [INPUT_MODEL, "demucs"]
    assert list(summary.mean.columns)[:2] == [(INPUT_MODEL, "pesq_wb"), (INPUT_MODEL, "stoi")]
    ci = VOIP_CONDITIONS.index("gm_phone_auto")
    expected = np.mean([_value(0.5, ci, c, "stoi") for c in range(CLIPS_PER_CONDITION)])
    assert summary.mean.loc["gm_phone_auto", ("demucs", "stoi")] == pytest.approx(expected)
    # the NaN clip is left out of the mean (not averaged as 0) and counted
    ci = VOIP_CONDITIONS.index("zm_phone_low")
    expected = np.mean([_value(0.5, ci, c, "pesq_wb") for c in (0, 2)])
    assert summary.mean.loc["zm_phone_low", ("demucs", "pesq_wb")] == pytest.approx(expected)
    assert summary.failures.loc["zm_phone_low", ("demucs", "pesq_wb")] == 1
    assert summary.failures.loc["all", ("demucs", "pesq_wb")] == 1
    assert summary.failures.loc["all", ("demucs", "stoi")] == 0
    assert summary.clips.loc["all", "demucs"] == 8 * CLIPS_PER_CONDITION
    markdown = summary_markdown(summary)
    header = "| Platform | Receiver | Denoising | n | input PESQ-WB | input STOI | demucs PESQ-WB | demucs Δ PESQ-WB |"
    assert header in markdown
    assert "| Zoom | phone | low | 3 |" in markdown
    assert "(1 NaN)" in markdown
    # the model is the input + 0.5 on every clip: a paired delta of exactly +0.5 with a zero-width interval
    assert "+0.500 [+0.500, +0.500]" in markdown
    assert summary.delta.loc["all", ("n", "demucs", "pesq_wb")] == 8 * CLIPS_PER_CONDITION - 1
    assert markdown.count("\n") == 2 + len(VOIP_CONDITIONS) + 1


def test_merging_two_runs_keeps_input_once(tmp_path):
    first = write_run(tmp_path / "run_a" / "scores.csv", 0.5)
    second = write_run(tmp_path / "run_b" / "test_scores.csv", 0.25)
    table = load_runs([("demucs", first), str(tmp_path / "run_b")])  # a label, and a folder named run_b
    summary = summarize_conditions(table, metrics=["pesq_wb"])
    assert summary.models == [INPUT_MODEL, "demucs", "run_b"]
    assert summary.clips.loc["gm_cloud_low"].tolist() == [CLIPS_PER_CONDITION] * 3  # input not doubled
    gap = summary.mean.loc["all", ("demucs", "pesq_wb")] - summary.mean.loc["all", ("run_b", "pesq_wb")]
    assert gap == pytest.approx(0.25)
    assert second.exists()


def test_write_report_files_and_egemaps_plot(tmp_path):
    csv = write_run(tmp_path / "scores.csv", 0.5, failures={("gm_cloud_low", 0): "stoi"}, model="demucs")
    paths = write_report(read_rows(csv), tmp_path / "report")
    for key in ("summary_csv", "summary_md", "bar_pesq_wb", "bar_stoi", "egemaps_plot", "egemaps_csv"):
        assert paths[key].exists(), key
    for key in ("bar_pesq_wb", "egemaps_plot"):
        assert paths[key].stat().st_size > 5000, key  # a real figure, not an empty canvas
    long = pd.read_csv(paths["summary_csv"])
    assert list(long.columns) == ["model", "condition", "metric", "mean", "ci_low", "ci_high", "n", "n_failed"]
    stoi = long[(long["model"] == "demucs") & (long["metric"] == "stoi")].set_index("condition")
    assert stoi.index.tolist() == [*VOIP_CONDITIONS, "all"]
    assert (stoi.loc["gm_cloud_low", "n"], stoi.loc["gm_cloud_low", "n_failed"]) == (2, 1)
    assert stoi.loc["all", "ci_low"] < stoi.loc["all", "mean"] < stoi.loc["all", "ci_high"]
    deltas = pd.read_csv(paths["summary_delta_csv"])
    assert deltas.loc[(deltas["condition"] == "all") & (deltas["metric"] == "pesq_wb"), "delta"].item() == (
        pytest.approx(0.5)
    )
    improvement = pd.read_csv(paths["egemaps_csv"])
    loudness = improvement[(improvement["feature"] == "Loudness") & (improvement["frames"] == "all")]
    # input MAE is 2x the clean-ish values, the model adds 0.5: improvement = (2x - (x + 0.5)) / 2x
    x = np.mean([_value(0.0, ci, c, "egemaps_mae_Loudness") for ci in range(8) for c in range(3)])
    assert loudness["improvement_pct"].item() == pytest.approx(100 * (2 * x - (x + 0.5)) / (2 * x))
    assert "egemaps_mae_improvement.png" in paths["summary_md"].read_text()


def test_report_cli_merges_runs(tmp_path, capsys):
    write_run(tmp_path / "a.csv", 0.5)
    write_run(tmp_path / "b.csv", 0.1)
    out = tmp_path / "out"
    assert report_main([f"demucs={tmp_path / 'a.csv'}", f"unet={tmp_path / 'b.csv'}", "-o", str(out)]) == 0
    assert "demucs PESQ" in capsys.readouterr().out and "unet STOI" in (out / "summary.md").read_text()
    assert report_main([str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert report_main([str(tmp_path / "a.csv"), "-o", str(out), "--metrics", "pesq_wide"]) == 2
    assert "metrics ['pesq_wide'] are not in the results (have ['pesq_wb', 'stoi'])" in capsys.readouterr().err


def test_command_line_labels_name_the_models_everywhere(tmp_path, capsys):
    # voipdns-eval always writes a model column (a checkpoint's run folder): the given label must win
    write_run(tmp_path / "a" / "scores.csv", 0.5, model="2026-12-02_03-48-47/last")
    write_run(tmp_path / "b" / "scores.csv", 0.2, model="eco/demo")
    out = tmp_path / "out"
    runs = [f"dns48={tmp_path / 'a'}", f"finetuned={tmp_path / 'b'}", "-o", str(out), "--title", "Table I"]
    assert report_main(runs) == 0
    capsys.readouterr()
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(set(summary["model"])) == ["dns48", "finetuned", INPUT_MODEL]
    text = (out / "summary.md").read_text()
    assert text.startswith("# Table I") and "dns48 PESQ-WB" in text and "finetuned Δ STOI" in text
    assert "03-48-47" not in text and "eco/demo" not in text
    assert "dns48" in (out / "bar_pesq_wb.svg").read_text()  # the plots' legends carry the labels too


def test_non_voip_conditions_get_a_plain_condition_column(tmp_path):
    rows = [
        {
            "name": f"p232_{i:03d}",
            "condition": "voicebank",
            "model": "m",
            "pesq_wb": 2.0 + 0.1 * i,
            "input_pesq_wb": 1.5 + 0.1 * i,
        }
        for i in range(4)
    ]
    paths = write_report(rows, tmp_path)
    text = paths["summary_md"].read_text()
    assert "| Condition | n | input PESQ-WB | m PESQ-WB | m Δ PESQ-WB |" in text
    assert "| voicebank | 4 |" in text and "Platform" not in text
    assert "+0.500 [+0.500, +0.500]" in text


def test_unknown_metric_lists_every_registered_scorer():
    from voipdns.metrics.scoring import get_scorer

    with pytest.raises(KeyError) as error:
        get_scorer("pesq_wide")
    for name in ("pesq_wb", "pesq_nb", "stoi", "si_sdr", "dnsmos", "pdnsmos", "plcmos", "egemaps_mae"):
        assert name in str(error.value)


def _sine(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_score_items_resumes_and_repairs_torn_line(tmp_path):
    clean = {i: _sine(0.5, i) for i in range(4)}
    calls = []

    def estimate(i):
        def make():
            calls.append(i)
            return clean[i] + 0.02 * _sine(0.5, 10 + i)

        return make

    items = [
        ScoreItem(
            f"clip{i}",
            estimate(i),
            clean=clean[i],
            noisy=clean[i] + 0.2 * _sine(0.5, 10 + i),
            condition="gm_cloud_low",
        )
        for i in range(4)
    ]
    csv = tmp_path / "scores.csv"
    score_items(items[:2], csv, metrics=["si_sdr"], num_workers=0, model="m", progress=False)
    with open(csv, "a") as handle:
        handle.write("clip9,gm_cloud_low,m,3.")  # a crash in the middle of a row
    rows = score_items(items, csv, metrics=["si_sdr"], num_workers=0, model="m", progress=False)
    assert calls == [0, 1, 2, 3]  # clips 0 and 1 were not enhanced again; the torn row was dropped
    assert [r["name"] for r in rows] == ["clip0", "clip1", "clip2", "clip3"]
    assert float(rows[0]["si_sdr"]) > float(rows[0]["input_si_sdr"])
    assert float(rows[0]["duration_seconds"]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="other columns"):
        score_items(items, csv, metrics=["stoi"], num_workers=0, model="m", progress=False)


def test_score_items_records_failures_as_nan(tmp_path):
    silent = np.zeros(8000, np.float32)
    rows = score_items(
        [ScoreItem("silent", _sine(0.5, 0), clean=silent)],
        tmp_path / "s.csv",
        metrics=["si_sdr"],
        num_workers=0,
        progress=False,
        with_input=False,
    )
    assert rows[0]["si_sdr"] == "nan"
    assert "silent" in rows[0]["failures"]


def test_score_folder_pairs_files_by_name(tmp_path):
    for folder in ("enhanced", "clean"):
        (tmp_path / folder).mkdir()
    for index in range(2):
        sf.write(tmp_path / "clean" / f"f{index}.wav", _sine(0.5, index), 16000)
        sf.write(tmp_path / "enhanced" / f"f{index}.wav", _sine(0.5, index) + 0.01 * _sine(0.5, 9), 16000)
    rows = score_folder(
        tmp_path / "enhanced",
        tmp_path / "scores.csv",
        clean_dir=tmp_path / "clean",
        condition="zm_cloud_auto",
        metrics=["si_sdr"],
        num_workers=0,
        progress=False,
    )
    assert [(r["name"], r["condition"]) for r in rows] == [("f0", "zm_cloud_auto"), ("f1", "zm_cloud_auto")]
    assert all(float(r["si_sdr"]) > 20 for r in rows)
    (tmp_path / "clean" / "f1.wav").unlink()
    with pytest.raises(FileNotFoundError, match="f1.wav: no clean file"):
        score_folder(tmp_path / "enhanced", tmp_path / "other.csv", clean_dir=tmp_path / "clean")


@pytest.mark.slow
def test_score_items_in_worker_processes_matches_inline(tmp_path):
    items = [ScoreItem(f"c{i}", _sine(1.0, i) + 0.05 * _sine(1.0, 20 + i), clean=_sine(1.0, i)) for i in range(4)]
    inline = score_items(items, tmp_path / "a.csv", metrics=["si_sdr", "stoi"], num_workers=0, progress=False)
    pooled = score_items(items, tmp_path / "b.csv", metrics=["si_sdr", "stoi"], num_workers=2, progress=False)
    assert sorted((r["name"], r["si_sdr"], r["stoi"]) for r in pooled) == [
        (r["name"], r["si_sdr"], r["stoi"]) for r in inline
    ]
