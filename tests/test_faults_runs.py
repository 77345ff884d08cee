"""Faults around runs (issue #12): orphan workers, bad items in evaluation, enhance output collisions,
changed simulation settings. Every test builds its own files under tmp_path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

WORKER_EXIT_SECONDS = 15.0  # a spawned worker may still be importing when its parent dies


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by init counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _start_parent(tmp_path: Path, body: str, workers: int = 2) -> tuple[subprocess.Popen, list[int]]:
    """Runs ``body`` in a parent process; it (or its workers) prints the ``workers`` worker pids."""
    script = tmp_path / "parent.py"
    script.write_text(body)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    while len(pids) < workers:
        line = parent.stdout.readline()
        if not line:
            parent.kill()
            pytest.fail(f"the parent process printed {pids}, not {workers} worker pids (exit {parent.wait()})")
        pids += [int(pid) for pid in line.split()]
    return parent, pids


def _kill_and_check_workers_exit(parent: subprocess.Popen, workers: list[int]) -> None:
    assert workers and all(_alive(pid) for pid in workers), "the workers should run before the parent dies"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + WORKER_EXIT_SECONDS
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:  # leave no orphan behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their SIGKILLed parent by {WORKER_EXIT_SECONDS} s"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see which processes live")
def test_scoring_pool_workers_exit_when_the_parent_is_sigkilled(tmp_path):
    parent, workers = _start_parent(
        tmp_path,
        """
import time
import numpy as np
from voipdns.metrics.pool import ScoringPool

if __name__ == "__main__":  # the workers are spawned: they import this file
    pool = ScoringPool(num_workers=2, metrics=["si_sdr"])
    clip = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    for key in range(2):
        pool.submit(key, clip, clip)
    pool.results()
    print(*pool._executor._processes, flush=True)
    time.sleep(120)
""",
    )
    _kill_and_check_workers_exit(parent, workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see which processes live")
def test_simulate_workers_exit_when_the_parent_is_sigkilled(tmp_path):
    parent, workers = _start_parent(
        tmp_path,
        """
import os, time
from voipdns.worker_guard import guarded_pool  # the pool of voipdns-simulate's workers


def long_job(_):  # busy workers: idle ones would also exit on their task pipe's EOF
    print(os.getpid(), flush=True)
    time.sleep(120)


if __name__ == "__main__":
    with guarded_pool(2, os.getpid) as pool:
        pool.map(long_job, range(2), chunksize=1)
""",
    )
    _kill_and_check_workers_exit(parent, workers)


# ---- voipdns-simulate: changed settings, corrupt sources ----------------------------------------------------------
SR = 16000


def _tone(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * rng.uniform(150, 300) * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _simulate_config(tmp_path: Path, clean: Path, noise: Path, *extra: str):
    from hydra_helpers import compose_config

    overrides = [
        f"dataset_dir={tmp_path / 'sim'}",
        f"source.clean_dir={clean}",
        f"source.noise_dir={noise}",
        "conditions=[gm_cloud_low]",
        "normalised=false",
        "workers=1",
        "split=test",
        *extra,
    ]
    return compose_config("simulate", overrides, tmp_path / "run")


@pytest.fixture
def small_corpus(tmp_path):
    clean, noise = tmp_path / "corpus" / "clean", tmp_path / "corpus" / "noise"
    clean.mkdir(parents=True)
    noise.mkdir(parents=True)
    for i in range(2):
        sf.write(clean / f"utt{i}.wav", _tone(1.0, i), SR)
    sf.write(noise / "fan.wav", (0.05 * np.random.default_rng(9).standard_normal(SR)).astype(np.float32), SR)
    return clean, noise


def test_simulate_rerun_with_other_settings_is_refused_naming_the_keys(tmp_path, small_corpus):
    from voipdns.voip.corpus import simulate
    from voipdns.voip.corpus_manifest import SettingsMismatchError

    first = simulate(_simulate_config(tmp_path, *small_corpus))
    assert first.written == 2 and not first.skipped
    before = first.manifest.read_text()
    with pytest.raises(SettingsMismatchError) as refused:
        simulate(_simulate_config(tmp_path, *small_corpus, "seed=7", "source.segment_seconds=0.5"))
    message = str(refused.value)
    assert "seed: 0 -> 7" in message and "source.segment_seconds: None -> 0.5" in message
    assert "snr_db_range" not in message and first.manifest.read_text() == before  # nothing was written
    assert simulate(_simulate_config(tmp_path, *small_corpus, "workers=2", "source.max_files=2")).written == 0
    changed = ("seed=7", "source.segment_seconds=0.5", "overwrite=true")
    again = simulate(_simulate_config(tmp_path, *small_corpus, *changed))
    written = sf.read(tmp_path / "sim" / "test" / "src_clean" / "clean_fileid_0.wav")[0]
    assert again.written == 2 and written.size == SR // 2 and again.manifest.read_text() != before


def test_simulate_skips_and_counts_a_corrupt_source_file(tmp_path, small_corpus):
    from voipdns.voip.corpus import simulate

    clean, noise = small_corpus
    (clean / "utt2.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    outcome = simulate(_simulate_config(tmp_path, clean, noise))
    assert outcome.written == 2 and list(outcome.skipped) == [str(clean / "utt2.wav")]
    assert "unreadable" in outcome.skipped[str(clean / "utt2.wav")]
    rows = outcome.manifest.read_text().splitlines()
    assert len(rows) == 1 + 2 * 3 and "utt2" not in outcome.manifest.read_text()  # 2 ids x (clean, noisy, relay)


# ---- voipdns-eval: bad items are skipped and counted ----------------------------------------------------------
BAD_PAIRS = ("e_empty", "f_corrupt", "g_unpaired", "h_mismatch", "i_inf")


def _pairs_folder(tmp_path: Path, good: int = 3, bad: tuple[str, ...] = BAD_PAIRS) -> tuple[Path, Path]:
    """``good`` clean/noisy pairs (a, b, c, ...) and one pair for each kind of bad item in ``bad``."""
    noisy_dir, clean_dir = tmp_path / "pairs" / "noisy", tmp_path / "pairs" / "clean"
    noisy_dir.mkdir(parents=True)
    clean_dir.mkdir(parents=True)
    for index in range(good):
        clean = _tone(1.0, index)
        sf.write(clean_dir / f"{chr(97 + index)}.wav", clean, SR)
        sf.write(noisy_dir / f"{chr(97 + index)}.wav", clean + 0.05 * _tone(1.0, 50 + index), SR)
    for name in bad:
        sf.write(clean_dir / f"{name}.wav", _tone(1.0, 7), SR)
    if "e_empty" in bad:
        sf.write(noisy_dir / "e_empty.wav", np.zeros(0, dtype=np.float32), SR)
    if "f_corrupt" in bad:
        (noisy_dir / "f_corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    if "g_unpaired" in bad:
        (clean_dir / "g_unpaired.wav").unlink()
        sf.write(noisy_dir / "g_unpaired.wav", _tone(1.0, 8), SR)
    if "h_mismatch" in bad:
        sf.write(noisy_dir / "h_mismatch.wav", _tone(0.5, 9), SR)
    if "i_inf" in bad:
        sf.write(noisy_dir / "i_inf.wav", np.full(SR, np.inf, dtype=np.float32), SR, subtype="FLOAT")
    return noisy_dir, clean_dir


def _eval_config(tmp_path: Path, noisy_dir: Path, clean_dir: Path, *extra: str):
    from hydra_helpers import compose_config

    return compose_config("eval", [*_eval_overrides(noisy_dir, clean_dir), *extra], tmp_path / "eval")


def _eval_overrides(noisy_dir: Path, clean_dir: Path) -> list[str]:
    """voipdns-eval of the unprocessed input on a pairs folder, SI-SDR only, no worker processes."""
    return [
        "checkpoint=input",
        "data=pairs",
        f"data.test.noisy_dir={noisy_dir}",
        f"data.test.clean_dir={clean_dir}",
        "metrics=[si_sdr]",
        "num_workers=0",
    ]


def _evaluate(cfg, output_dir: Path, num_workers: int = 0):
    from voipdns.cli.evaluate import split_dataset
    from voipdns.enhancers import load_enhancer
    from voipdns.evaluation import evaluate

    return evaluate(
        split_dataset(cfg),
        load_enhancer("input"),
        output_dir,
        metrics=["si_sdr"],
        num_workers=num_workers,
        chunk_seconds=20.0,
        overlap_seconds=1.0,
        save_enhanced=False,
        label="input",
        strict=bool(cfg.strict),
    )


def _score_names(path: Path) -> list[str]:
    import csv

    with open(path, newline="") as handle:
        return sorted(row["name"] for row in csv.DictReader(handle))


def test_eval_skips_and_counts_every_kind_of_bad_item(tmp_path, caplog):
    noisy_dir, clean_dir = _pairs_folder(tmp_path)
    outcome = _evaluate(_eval_config(tmp_path, noisy_dir, clean_dir), tmp_path / "eval")
    assert _score_names(tmp_path / "eval" / "scores.csv") == ["a", "b", "c"]
    skipped = {Path(what).stem: reason for what, reason in outcome.skipped.items()}
    assert sorted(skipped) == sorted(BAD_PAIRS)
    assert "empty" in skipped["e_empty"] and "unreadable" in skipped["f_corrupt"]
    assert "no clean file" in skipped["g_unpaired"] and "length differs" in skipped["h_mismatch"]
    assert "non-finite" in skipped["i_inf"]
    summary = outcome.files["summary_md"].read_text()
    assert "## Skipped items (5)" in summary and all(f"{name}.wav" in summary for name in BAD_PAIRS)
    assert all(f"{name}.wav" in caplog.text for name in BAD_PAIRS)  # and on the console


def test_eval_strict_stops_at_the_first_bad_item(tmp_path):
    noisy_dir, clean_dir = _pairs_folder(tmp_path, bad=("f_corrupt",))
    with pytest.raises(Exception, match="f_corrupt.wav: unreadable"):  # the dataset's (Hydra wraps it)
        _evaluate(_eval_config(tmp_path, noisy_dir, clean_dir, "strict=true"), tmp_path / "eval")
    assert not (tmp_path / "eval" / "scores.csv").exists()


def test_eval_scores_finished_before_a_failing_item_are_on_disk(tmp_path):
    from voipdns.audio import AudioFileError

    noisy_dir, clean_dir = _pairs_folder(tmp_path, good=4, bad=("i_inf",))
    with pytest.raises(AudioFileError, match="non-finite"):  # strict: i_inf (read after a..d) stops the run
        _evaluate(_eval_config(tmp_path, noisy_dir, clean_dir, "strict=true"), tmp_path / "eval", num_workers=1)
    assert _score_names(tmp_path / "eval" / "scores.csv") == ["a", "b", "c", "d"]  # the clips in flight too


# ---- voipdns-enhance: one output per input ------------------------------------------------------------------------
def _enhance_config(tmp_path: Path, source: Path, output: Path):
    from hydra_helpers import compose_config

    return compose_config("enhance", ["checkpoint=input", f"input={source}", f"output={output}"], tmp_path / "run")


def test_enhance_refuses_two_inputs_with_one_output_before_writing(tmp_path):
    from voipdns.cli.enhance import enhance_all

    source = tmp_path / "in"
    source.mkdir()
    sf.write(source / "a.wav", _tone(0.5, 1), SR)
    sf.write(source / "a.flac", _tone(0.5, 2), SR)
    sf.write(source / "b.wav", _tone(0.5, 3), SR)
    with pytest.raises(ValueError, match=r"a\.flac and .*a\.wav would both be written to .*out/a\.wav"):
        enhance_all(_enhance_config(tmp_path, source, tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="would overwrite this input"):
        enhance_all(_enhance_config(tmp_path, source / "b.wav", source))
    (source / "a.flac").unlink()
    written, failures = enhance_all(_enhance_config(tmp_path, source, tmp_path / "out"))
    assert sorted(path.name for path in written) == ["a.wav", "b.wav"] and not failures


@pytest.mark.slow  # a voipdns-eval process: ~10 s of imports on a loaded 2-core machine
def test_eval_cli_lists_skipped_items_and_exits_non_zero(tmp_path):
    noisy_dir, clean_dir = _pairs_folder(tmp_path, good=1, bad=("f_corrupt", "i_inf"))
    command = [
        Path(sys.executable).parent / "voipdns-eval",
        *_eval_overrides(noisy_dir, clean_dir),
        f"hydra.run.dir={tmp_path / 'eval'}",
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=180
    )
    console = run.stdout + run.stderr
    assert run.returncode != 0 and "2 item(s) skipped" in console, console[-3000:]
    assert "f_corrupt.wav" in console and "i_inf.wav" in console
    assert _score_names(tmp_path / "eval" / "scores.csv") == ["a"]
