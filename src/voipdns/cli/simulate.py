"""voipdns-simulate: write a VoIP-DNS-layout tree from any clean/noisy corpus through the channel simulator.

    voipdns-simulate dataset_dir=/data/sim-voipdns split=train source.clean_dir=/data/clean \\
        source.noise_dir=/data/noise source.segment_seconds=30 workers=8

The corpus jobs, workers and manifest live in ``voipdns.voip.corpus`` (see its docstring for the layout).
Resumable; a rerun with other audio-shaping settings is refused naming the keys (``overwrite=true`` rewrites);
an unusable source file is skipped, counted, and makes the exit status non-zero at the end.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from voipdns.cli.common import log, save_run_info
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR
from voipdns.voip.corpus import simulate


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="simulate")
@cli_entry()
def main(cfg: DictConfig) -> None:
    save_run_info(cfg, cfg.paths.output_dir)
    outcome = simulate(cfg)
    print(f"manifest: {outcome.manifest} ({outcome.written} file id(s) written now)")
    if outcome.skipped:
        for source, reason in outcome.skipped.items():
            log.error("skipped %s: %s", source, reason)
        raise SystemExit(f"{len(outcome.skipped)} source file(s) skipped (listed above); fix or remove them and rerun")


if __name__ == "__main__":
    main()
