"""Does the shipped model make VoIP speech better? Relay vs baselines vs voipdns-gtcrn, side by side, one run.

Every clip of the unseen test split of ``data=voip_relays`` (speakers and noise recordings that training and
validation never saw, each relayed through the eight platform x receiver x setting conditions, plus the six
VoiceBank-DEMAND pairs relayed) is enhanced by each model and scored against the clean source. Printed: the
mean per model over the whole split and over the cloud and the phone conditions, then per condition, then
whether the shipped model's targets hold (see recipes/voipdns/gtcrn/README.md). Needs ../shared/data.

    nice .venv/bin/python bench/bench_quality.py                       # relay, gtcrn_dns3, voipdns-gtcrn (+ baselines)
    nice .venv/bin/python bench/bench_quality.py --models input voipdns-gtcrn logs/.../best.ckpt --limit 24

``gtcrn_dns3`` is read from the checkpoint cache (``VOIPDNS_CHECKPOINT_DIR``; on development machines
``../shared/pretrained/gtcrn``). RNNoise and DeepFilterNet3 are added when ``.[baselines]`` is installed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from machine import machine_info

from voipdns.baselines import BASELINES
from voipdns.config import CONFIG_DIR, register_resolvers
from voipdns.enhancers import load_enhancer
from voipdns.metrics.pool import score_many

METRICS = ("pesq_wb", "pesq_nb", "stoi", "si_sdr")
SHARED_PRETRAINED = Path(__file__).resolve().parents[1] / ".." / "shared" / "pretrained" / "gtcrn"


def default_models() -> list[str]:
    """The relay, the baselines whose packages are installed, gtcrn_dns3 and the shipped model."""
    extra = [name for name, spec in BASELINES.items() if _installed(spec.distribution)]
    return ["input", *extra, "gtcrn_dns3", "voipdns-gtcrn"]


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_items(limit: int | None) -> list[dict]:
    register_resolvers()
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        config = compose("train.yaml", overrides=["data=voip_relays"])
    dataset = instantiate(config.data.test)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    stride = max(1, len(dataset) // count)  # a limit still covers every condition
    return [dataset[index] for index in range(0, len(dataset), stride)][:count]


def group_of(condition: str) -> str:
    return "phone" if "_phone_" in condition else "cloud" if "_cloud_" in condition else condition


def score_model(spec: str, items: list[dict], workers: int) -> tuple[dict[str, dict[str, float]], float]:
    """``{item name: {metric: value}}`` and the model's real-time factor over the split."""
    enhancer = load_enhancer(spec)
    pairs, seconds, audio = [], 0.0, 0.0
    for item in items:
        noisy = item["noisy"].numpy().reshape(-1)
        started = time.perf_counter()
        estimate = enhancer.enhance(noisy)
        seconds += time.perf_counter() - started
        audio += noisy.size / enhancer.sample_rate
        pairs.append((item["name"], item["clean"].numpy().reshape(-1), estimate))
    results = score_many(pairs, num_workers=workers, metrics=list(METRICS))
    return {name: results.scores[name] for name, *_ in pairs}, seconds / audio


def groups_of(items: list[dict]) -> dict[str, list[str]]:
    """Clip names of ``all``, ``cloud``, ``phone`` and every condition."""
    groups: dict[str, list[str]] = defaultdict(list)
    for item in items:
        for group in ("all", group_of(item["condition"]), item["condition"]):
            groups[group].append(item["name"])
    return groups


def means(scores: dict[str, dict[str, float]], groups: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """``{group: {metric: mean}}`` (NaNs left out)."""
    return {
        group: {metric: float(np.nanmean([scores[name][metric] for name in names])) for metric in METRICS}
        for group, names in groups.items()
    }


def table(results: dict[str, dict], groups: list[str], counts: dict[str, int]) -> str:
    models = list(results)
    header = f"{'group':<16}{'n':>4}  {'metric':<8}" + "".join(f"{m[-14:]:>15}" for m in models)
    lines = [header, "-" * len(header)]
    for group in groups:
        for metric in METRICS:
            row = "".join(f"{results[m][group][metric]:>15.3f}" for m in models)
            lines.append(f"{group:<16}{counts[group]:>4}  {metric:<8}{row}")
    return "\n".join(lines)


def targets(results: dict[str, dict], tuned: str, start: str) -> list[str]:
    """The issue's acceptance checks, each as one PASS/MISS line."""
    checks = []
    for group in ("all", "cloud", "phone"):
        for metric in METRICS:
            relay, base, ours = (results[m][group][metric] for m in ("input", start, tuned))
            verdict = "PASS" if ours > base > relay else "MISS"
            checks.append(f"{verdict} {group:<6}{metric:<8} tuned {ours:.3f} > {start} {base:.3f} > relay {relay:.3f}")
        gain = results[tuned][group]["pesq_wb"] - results[start][group]["pesq_wb"]
        checks.append(
            f"{'PASS' if gain >= 0.15 else 'MISS'} {group:<6}PESQ-WB gain over {start}: {gain:+.3f} (target +0.15)"
        )
    conditions = [g for g in results["input"] if g not in ("all", "cloud", "phone")]
    below = [c for c in conditions if results[tuned][c]["stoi"] < results["input"][c]["stoi"]]
    checks.append(f"{'PASS' if not below else 'MISS'} STOI below the relay in: {below or 'no condition'}")
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None, help="specs: input, registry names, checkpoints")
    parser.add_argument("--limit", type=int, default=None, help="score only this many clips (spread over conditions)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if SHARED_PRETRAINED.is_dir():
        os.environ.setdefault("VOIPDNS_CHECKPOINT_DIR", str(SHARED_PRETRAINED.resolve()))
    print(machine_info(threads=1))
    items = test_items(args.limit)
    groups = groups_of(items)
    results = {}
    for spec in args.models or default_models():
        started = time.time()
        scores, rtf = score_model(spec, items, args.workers)
        results[spec] = means(scores, groups)
        print(f"scored {spec}: {len(scores)} clips in {time.time() - started:.0f} s (enhancement RTF {rtf:.3f})")
    counts = {group: len(names) for group, names in groups.items()}
    conditions = sorted({item["condition"] for item in items})
    print("\nTest split (unseen speakers and noise files), mean per clip; higher is better for every metric\n")
    print(table(results, ["all", "cloud", "phone"], counts))
    print("\nPer condition\n")
    print(table(results, conditions, counts))
    if {"input", "gtcrn_dns3", "voipdns-gtcrn"} <= set(results):
        print("\nTargets\n")
        print("\n".join(targets(results, "voipdns-gtcrn", "gtcrn_dns3")))


if __name__ == "__main__":
    main()
