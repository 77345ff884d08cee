"""voipdns-aggregate: one table (+ a plot) from a Hydra multirun folder, e.g. a learning-rate or mu sweep.

    voipdns-aggregate logs/train/multiruns/lr_sweep            # writes into that folder
    voipdns-aggregate logs/train/multiruns/mu_sweep -o reports/mu --metrics test/pesq_wb test/stoi

One row per job: its overrides (swept ones first), the best validation epoch's val/* metrics, the final
test/* metrics and a status (a crashed job keeps its row). Writes aggregate.csv, aggregate_by_condition.csv,
aggregate.md and aggregate.{png,pdf,svg}; the collection lives in ``voipdns.reports.sweep``.
"""

from __future__ import annotations

import argparse
import sys

from voipdns.reports.sweep_write import DEFAULT_PLOT_METRICS, write_outputs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voipdns-aggregate",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("multirun_dir", help="a Hydra multirun folder (logs/<task>/multiruns/<run_name>)")
    parser.add_argument("-o", "--out-dir", default=None, help="where to write (default: the multirun folder)")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_PLOT_METRICS), help="metrics to plot")
    parser.add_argument("--title", default=None, help="heads aggregate.md and the plot (default: Sweep <folder>)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = write_outputs(args.multirun_dir, args.out_dir, args.metrics, args.title)
    except (FileNotFoundError, ValueError) as error:
        print(f"voipdns-aggregate: error: {error}", file=sys.stderr)
        return 2
    print(paths["md"].read_text())
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
