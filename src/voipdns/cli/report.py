"""voipdns-report: merge the per-file results of several runs into one per-condition report.

    voipdns-report logs/eval/runs/demucs logs/eval/runs/unet -o reports/voip
    voipdns-report demucs=runs/a/scores.csv unet=runs/b/test_scores.csv -o out --metrics pesq_wb dnsmos_ovrl

A run is a results CSV or a run folder holding scores.csv / test_scores.csv; ``label=path`` names the model
when the CSV has no ``model`` column. Writes summary.csv, summary.md (Table I layout), bar plots and, when
eGeMAPS MAE was scored, the Fig. 3-style improvement plot. Plain argparse: a report has no config to compose.
"""

from __future__ import annotations

import argparse
import logging
import sys

from voipdns.reports.runs import load_runs
from voipdns.reports.table import TABLE_METRICS
from voipdns.reports.write import write_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voipdns-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="results CSVs or run folders, optionally as label=path")
    parser.add_argument("-o", "--out-dir", required=True, help="folder for summary.csv/.md and plots")
    parser.add_argument("--metrics", nargs="+", default=None, help="metrics to report (default: all scalar)")
    parser.add_argument(
        "--table-metrics",
        nargs="+",
        default=list(TABLE_METRICS),
        help="the Table I column pair per model (default: pesq_wb stoi)",
    )
    parser.add_argument("--models", nargs="+", default=None, help="models to show, in this order")
    parser.add_argument("--title", default="Results per condition")
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
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"voipdns-report: error: {error}", file=sys.stderr)
        return 2
    print(paths["summary_md"].read_text())
    print(f"report written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
