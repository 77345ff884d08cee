"""voipdns-report: merge the per-file results of several runs into one per-condition report.

    voipdns-report noisy=logs/eval/runs/a dns48=logs/eval/runs/b -o report --title "VoIP-DNS test set"
    voipdns-report demucs=runs/a/scores.csv unet=runs/b/test_scores.csv -o out --metrics pesq_wb dnsmos_ovrl

A run is a results CSV or a run folder holding scores.csv / test_scores.csv. ``label=path`` names the model:
the label is its name in every table, CSV and plot (without one, the CSV's ``model`` column or the folder
name). Writes summary.csv (long: model, condition, metric, mean, 95 % CI, n, failures), summary_delta.csv,
summary.md (Table I layout), bar plots and, when eGeMAPS MAE was scored, the Fig. 3-style improvement plot,
each as PNG, PDF and SVG. Plain argparse: a report has no config to compose.
"""

from __future__ import annotations

import argparse
import logging
import sys

from voipdns.reports.runs import load_runs
from voipdns.reports.table import TABLE_METRICS
from voipdns.reports.write import write_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voipdns-report",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", help="results CSVs or run folders, as label=path to name the model")
    parser.add_argument("-o", "--out-dir", required=True, help="folder for summary.csv/.md and plots")
    parser.add_argument("--metrics", nargs="+", default=None, help="metrics to report (default: all scalar)")
    parser.add_argument(
        "--table-metrics",
        nargs="+",
        default=list(TABLE_METRICS),
        help="the Table I column pair per model (default: pesq_wb stoi)",
    )
    parser.add_argument("--models", nargs="+", default=None, help="models to show, in this order")
    parser.add_argument("--title", default="Results per condition", help="heads summary.md and every figure")
    parser.add_argument(
        "--egemaps-by-condition", action="store_true", help="one panel per condition in the eGeMAPS MAE plot"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        table = load_runs(args.runs)
        paths = write_report(
            table,
            args.out_dir,
            metrics=args.metrics,
            table_metrics=args.table_metrics,
            models=args.models,
            title=args.title,
            egemaps_by_condition=args.egemaps_by_condition,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"voipdns-report: error: {error}", file=sys.stderr)
        return 2
    print(paths["summary_md"].read_text())
    print(f"report written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
