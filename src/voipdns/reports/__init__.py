"""Evaluation reports: resumable per-file scoring, per-condition tables (seed paper's Table I), plots.

Typical use (what ``voipdns-eval`` and ``voipdns-report`` do)::

    rows = score_items(items, out_dir / "scores.csv", metrics=[...], model="demucs")
    write_report(rows, out_dir)                              # one run
    write_report(load_runs(["a/scores.csv", "b/"]), out)     # several runs merged into one table

Names are imported on first use: scoring worker processes import this package and must not pay for
pandas/matplotlib/openSMILE, which only the report writers need.
"""

from __future__ import annotations

from voipdns.lazy_exports import lazy_getattr

_EXPORTS = {
    "ResultsCsv": "results_csv",
    "done_keys": "results_csv",
    "read_rows": "results_csv",
    "INPUT_MODEL": "runs",
    "load_runs": "runs",
    "merge_long": "runs",
    "rows_to_long": "runs",
    "ScoreItem": "score_files",
    "pair_folder": "score_files",
    "score_folder": "score_files",
    "score_items": "score_files",
    "ConditionSummary": "table",
    "summarize_conditions": "table",
    "summary_long": "table",
    "bootstrap_ci": "bootstrap",
    "summary_markdown": "markdown",
    "write_report": "write",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
