"""The manifest of a simulated corpus: one CSV row per written file, and the settings that shaped the audio.

``<split>/manifest.csv`` records every file (fileid, condition, snr_db, seed, codec parameters); rows reach the
disk as files complete, so an interrupted run resumes. ``<split>/manifest_settings.json`` records the settings
that shape the audio (sources, seed, sample rate, file numbering, conditions and their channel configs): a rerun
with other values would mix two configurations in one tree, so it is refused with the differing keys named.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MANIFEST_COLUMNS = (
    "fileid",
    "condition",
    "partition",
    "path",
    "snr_db",
    "level_dbfs",
    "seed",
    "clean_source",
    "noisy_source",
    "noise_source",
    "lost_fraction",
    "params",
)
SETTINGS_FILE = "manifest_settings.json"
SHAPING_KEYS = ("sample_rate", "seed", "start_fileid", "conditions", "source", "channels")
NOT_SHAPING_SOURCE_KEYS = ("max_files",)  # how many files, not what is in them
_MAX_SHOWN = 8


class SettingsMismatchError(FileExistsError):
    """A rerun over a tree made with other audio-shaping settings (the tree exists, with other contents)."""


def audio_settings(plain: dict[str, Any]) -> dict[str, Any]:
    """The settings that shape the written audio, flattened to dotted keys (``source.segment_seconds``)."""
    conditions = list(plain["conditions"])
    shaping = {key: plain.get(key) for key in SHAPING_KEYS}
    shaping["source"] = {k: v for k, v in plain["source"].items() if k not in NOT_SHAPING_SOURCE_KEYS}
    shaping["channels"] = {condition: plain["channels"][condition] for condition in conditions}
    return _flatten(shaping)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def differing_keys(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    return sorted(key for key in recorded.keys() | current.keys() if recorded.get(key) != current.get(key))


def check_or_record_settings(split_dir: Path, settings: dict[str, Any]) -> None:
    """Record ``settings`` for a new tree; for an existing one, refuse when they differ from the recorded."""
    path = split_dir / SETTINGS_FILE
    manifest = split_dir / "manifest.csv"
    if not path.is_file():
        if read_manifest(manifest):
            raise SettingsMismatchError(
                f"{manifest}: this tree was simulated without recorded settings ({path} is missing), so a rerun "
                "cannot tell whether they match; write to another dataset_dir/split or rerun with overwrite=true"
            )
        _write_json(path, settings)
        return
    recorded = json.loads(path.read_text())
    keys = differing_keys(recorded, json.loads(json.dumps(settings)))  # compared as they would be recorded
    if keys:
        shown = "; ".join(f"{k}: {recorded.get(k)!r} -> {settings.get(k)!r}" for k in keys[:_MAX_SHOWN])
        more = f" (+{len(keys) - _MAX_SHOWN} more)" if len(keys) > _MAX_SHOWN else ""
        raise SettingsMismatchError(
            f"{split_dir} was simulated with other settings ({path}); differing: {shown}{more}. Rerun with the "
            "recorded values to resume, write to another dataset_dir/split, or overwrite=true to rewrite every file"
        )


def forget(split_dir: Path) -> None:
    """overwrite=true: start a new manifest and settings record (the files themselves are rewritten)."""
    for name in ("manifest.csv", SETTINGS_FILE):
        (split_dir / name).unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, path)


def read_manifest(path: Path) -> dict[int, set[str]]:
    """{fileid: partitions already recorded}."""
    done: dict[int, set[str]] = {}
    if path.is_file():
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                done.setdefault(int(row["fileid"]), set()).add(row["partition"])
    return done


class ManifestWriter:
    """Appends rows and flushes them at once, so the manifest always lists the files that are complete."""

    def __init__(self, path: Path):
        new_file = not path.is_file()
        self._handle = path.open("a", newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        if new_file:
            self._writer.writeheader()

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        self._writer.writerows(rows)
        self._handle.flush()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()
