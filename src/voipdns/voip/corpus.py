"""Simulate a VoIP-DNS-layout corpus from any clean/noisy corpus through the channel presets (voipdns-simulate).

Sources: paired folders (``source.noisy_dir``, paired with ``source.clean_dir`` by DNS ``fileid_N`` or by name)
or clean + noise folders mixed on the fly (``source.noise_dir``; SNR and level ranges, ``voipdns.data.mixing``).
Output ``<dataset_dir>/<split>/``: ``src_clean``, ``src_noisy``, ``src_<platform>_<receiver>_relay_<setting>``
for each condition in ``conditions`` (channels from ``conf/voip/``), and with ``normalised`` the ``nrm_*``
copies (int16(0.8 * 32767 * x / max|x|)); files are ``<partition>_fileid_N.wav`` (``clean_fileid_N.wav``).
Resumable (``voip.corpus_manifest``): a file id whose rows are all in the manifest and whose files all exist is
skipped, partial ones are redone (every file is written atomically); a rerun with other audio-shaping settings
is refused unless ``overwrite``. An unusable source file is skipped and counted, never the end of the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from voipdns.config import to_plain
from voipdns.progress import AudioProgress
from voipdns.voip.corpus_jobs import make_jobs, pending_jobs
from voipdns.voip.corpus_manifest import (
    ManifestWriter,
    audio_settings,
    check_or_record_settings,
    forget,
    read_manifest,
)
from voipdns.voip.corpus_worker import run_jobs

log = logging.getLogger(__name__)


@dataclass
class Simulation:
    manifest: Path
    written: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # source file -> why it was not used


def _plain_config(cfg: DictConfig) -> dict:
    plain = to_plain(cfg)
    conditions = list(plain.get("conditions") or plain["channels"])
    missing = [c for c in conditions if c not in plain["channels"]]
    if missing:
        raise ValueError(
            f"voipdns-simulate: conditions {missing} have no channel config (channels: "
            f"{sorted(plain['channels'])}; add conf/voip/<condition>.yaml)"
        )
    plain["conditions"] = conditions
    return plain


def simulate(cfg: DictConfig) -> Simulation:
    """Run the simulation described by `cfg` (conf/simulate.yaml)."""
    plain = _plain_config(cfg)
    split_dir = Path(plain["dataset_dir"]) / plain["split"]
    split_dir.mkdir(parents=True, exist_ok=True)
    outcome = Simulation(split_dir / "manifest.csv")
    jobs, outcome.skipped = make_jobs(cfg.source, int(plain.get("start_fileid", 0)))
    if plain.get("overwrite"):
        forget(split_dir)
    check_or_record_settings(split_dir, audio_settings(plain))
    done = read_manifest(outcome.manifest)
    pending = pending_jobs(jobs, split_dir, plain["conditions"], bool(plain["normalised"]), done)
    log.info(
        "voipdns-simulate: %d files, %d already done, %d to write into %s",
        len(jobs),
        len(jobs) - len(pending),
        len(pending),
        split_dir,
    )
    # one progress bar (file ids done, source audio seconds, real-time factor) instead of periodic log lines
    with ManifestWriter(outcome.manifest) as manifest, AudioProgress(len(pending), "simulate") as bar:
        for result in run_jobs(plain, pending, int(plain.get("workers", 1))):
            if result.rows:
                manifest.write(result.rows)
                outcome.written += 1
            else:
                outcome.skipped[result.bad_source] = result.reason
                log.warning(
                    "voipdns-simulate: skipped file id %d: %s: %s", result.job.fileid, result.bad_source, result.reason
                )
            bar.update(audio_seconds=result.seconds)
    log.info("voipdns-simulate: %s", bar.summary())
    return outcome
