"""voipdns-enhance: a file or a folder of files in, enhanced 16-bit WAV files out (folder structure kept)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from voipdns.cli.common import log
from voipdns.cli.entry import UsageError, cli_entry
from voipdns.config import CONFIG_DIR
from voipdns.enhance_files import enhance_files, stream_files
from voipdns.enhancers import load_enhancer, load_streamer


def collect_sources(source: Path, extensions: list[str]) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"input={source}: no such file or folder")
    suffixes = {f".{extension.lower().lstrip('.')}" for extension in extensions}
    files = sorted(path for path in source.rglob("*") if path.suffix.lower() in suffixes)
    if not files:
        raise FileNotFoundError(f"input={source}: no audio files with extensions {sorted(suffixes)}")
    return files


def target_path(source: Path, root: Path, output: Path) -> Path:
    relative = source.relative_to(root) if root.is_dir() else Path(source.name)
    return (output / relative).with_suffix(".wav")


def unique_targets(sources: list[Path], root: Path, output: Path) -> dict[Path, Path]:
    """{source: target}; refuses before anything is written when two inputs would share one output
    (``a.wav`` and ``a.flac`` both give ``a.wav``) or an output would replace its own input."""
    source_of: dict[Path, Path] = {}  # target -> the input it is written from
    for source in sources:
        target = target_path(source, root, output)
        if target.resolve() == source.resolve():
            raise UsageError(f"{source}: the output would overwrite this input; choose another output= folder")
        if target in source_of:
            raise UsageError(
                f"{source_of[target]} and {source} would both be written to {target}: rename or "
                f"move one of them, or enhance them in separate runs"
            )
        source_of[target] = source
    return {source: target for target, source in source_of.items()}


def enhance_all(cfg: DictConfig) -> tuple[list[Path], dict[Path, str]]:
    """Enhances every source; a bad file is reported and skipped, the others are still written."""
    root, output = Path(cfg.input), Path(cfg.output)
    targets = unique_targets(collect_sources(root, list(cfg.extensions)), root, output)
    todo = {source: target for source, target in targets.items() if cfg.overwrite or not target.exists()}
    if len(todo) < len(targets):
        log.info("skip %d file(s) written before this run (overwrite=true to redo)", len(targets) - len(todo))
    if cfg.stream:
        return stream_files(load_streamer(str(cfg.checkpoint)), todo)
    # files of similar length run as one batch, long ones in chunks; one progress bar (voipdns.enhance_files)
    return enhance_files(
        load_enhancer(str(cfg.checkpoint), cfg.device),
        todo,
        batch_size=int(cfg.batch_size),
        chunk_seconds=cfg.chunk_seconds,
        overlap_seconds=cfg.overlap_seconds,
        max_padding=float(cfg.max_padding),
    )


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="enhance")
@cli_entry()
def main(cfg: DictConfig) -> None:
    written, failures = enhance_all(cfg)
    log.info("enhanced %d file(s) into %s", len(written), cfg.output)
    if failures:
        raise SystemExit(f"{len(failures)} file(s) failed: " + "; ".join(failures.values()))


if __name__ == "__main__":
    main()
