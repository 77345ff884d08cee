"""Fault suite for bad input (issue 12 items 3, 7, 8, 9, 10, 11); every fixture file is written by the test."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from voipdns.checkpoint_formats.common import check_state_dict
from voipdns.checkpoint_formats.errors import CheckpointFormatError, CheckpointKeyError
from voipdns.metrics.scoring import score_clip
from voipdns.metrics.summary import summarize
from voipdns.models.demucs import Demucs
from voipdns.models.fullsubnet import FullSubNet
from voipdns.pretrained import load_net

TINY_DEMUCS = {"hidden": 4, "depth": 3}
TINY_FULLSUBNET = {"n_fft": 64, "hop_samples": 32, "win_samples": 64, "fb_hidden_size": 16, "sb_hidden_size": 8}


# --- item 7: a renamed or reshaped key in an official state_dict names the file, the key and the shape ---


def test_check_state_dict_lists_missing_unexpected_and_reshaped_keys():
    state = {"a.weight": torch.zeros(2, 3), "b.bias": torch.zeros(4), "c": torch.zeros(1)}
    expected = {"a.weight": (2, -1), "b.bias": (5,), "d": (7, 7)}
    with pytest.raises(CheckpointKeyError) as info:
        check_state_dict("model.th", state, expected)
    message = str(info.value)
    assert message.startswith("model.th: ")
    assert "missing (1): d [7, 7]" in message and "unexpected (1): c [1]" in message
    assert "reshaped (1): b.bias [4], expected [5]" in message
    assert isinstance(info.value, CheckpointFormatError) and isinstance(info.value, KeyError)
    check_state_dict("model.th", {"a.weight": torch.zeros(2, 9)}, {"a.weight": (2, -1)})  # -1: any size


def test_demucs_state_dict_with_a_renamed_key_names_file_and_key(tmp_path):
    state = Demucs(**TINY_DEMUCS).state_dict()
    state["encoder.1.0.w"] = state.pop("encoder.1.0.weight")
    path = tmp_path / "renamed.th"
    torch.save(state, path)
    with pytest.raises(CheckpointKeyError, match=r"renamed\.th: .*missing \(1\): encoder\.1\.0\.weight \[\*, \*, \*\]"):
        load_net(path)


def test_demucs_state_dict_with_a_reshaped_key_names_the_expected_shape(tmp_path):
    state = Demucs(**TINY_DEMUCS).state_dict()
    state["encoder.1.0.weight"] = torch.zeros(8, 4)  # one dimension lost: config inference would unpack it
    torch.save(state, tmp_path / "rank.th")
    with pytest.raises(
        CheckpointKeyError, match=r"rank\.th: .*reshaped \(1\): encoder\.1\.0\.weight \[8, 4\], expected \[\*, \*, \*\]"
    ):
        load_net(tmp_path / "rank.th")
    state["encoder.1.0.weight"] = torch.zeros(8, 3, 8)  # right rank, wrong input channels for hidden 4
    torch.save(state, tmp_path / "size.th")
    with pytest.raises(
        CheckpointKeyError, match=r"size\.th: .*encoder\.1\.0\.weight \[8, 3, 8\], expected \[8, 4, 8\]"
    ):
        load_net(tmp_path / "size.th")


def test_fullsubnet_state_dict_with_a_reshaped_key_names_file_and_shape(tmp_path):
    state = FullSubNet(**TINY_FULLSUBNET).state_dict()
    state["sb_model.fc_output_layer.weight"] = torch.zeros(3, 8)
    path = tmp_path / "fsn.tar"
    torch.save({"epoch": 1, "best_score": 0.0, "optimizer": {}, "scaler": {}, "model": state}, path)
    with pytest.raises(
        CheckpointKeyError, match=r"fsn\.tar.*sb_model\.fc_output_layer\.weight \[3, 8\], expected \[2, 8\]"
    ):
        load_net(path)
    del state["fb_model.fc_output_layer.weight"]  # a key config inference reads
    torch.save(state, path)
    with pytest.raises(CheckpointKeyError, match=r"fsn\.tar.*missing \(1\): fb_model\.fc_output_layer\.weight"):
        load_net(path)


# --- item 3: a scorer that cannot score a clip (silence, 0.1 s) gives NaN with its reason, never a number ---

SR = 16000
INTRUSIVE = ["pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr"]
ALL_SCORERS = [*INTRUSIVE, "dnsmos", "plcmos", "egemaps_mae"]


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced 150 Hz harmonic tone gated at 3 Hz plus a little noise: enough for every scorer."""
    t = np.arange(int(seconds * SR)) / SR
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6)) * (np.sin(2 * np.pi * 3 * t) > 0)
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.2 * voiced + 0.01 * noise).astype(np.float32)


def assert_all_nan_with(scores, keys, reason: str) -> None:
    for key in keys:
        assert math.isnan(scores[key]), f"{key} = {scores[key]} on a clip it cannot score"
        assert reason in scores.failures[key], f"{key}: {scores.failures[key]!r} lacks {reason!r}"


def test_silent_clean_reference_is_nan_with_reason_for_every_intrusive_scorer():
    estimate = speechlike(1.5)
    scores = score_clip(np.zeros_like(estimate), estimate, SR, [*INTRUSIVE, "egemaps_mae"])
    assert_all_nan_with(scores, scores.keys(), "clean reference is silent")


def test_silent_estimate_is_nan_for_intrusive_and_mos_scorers():
    clean = speechlike(1.5)
    scores = score_clip(clean, np.zeros_like(clean), SR, [*INTRUSIVE, "dnsmos", "plcmos"])
    assert_all_nan_with(scores, scores.keys(), "estimate is silent")
    # a DC offset is no sound either: pystoi scored it ~0 and DNSMOS rated it as speech
    dc = score_clip(np.full_like(clean, 1e-3), clean, SR, ["stoi", "estoi"])
    assert_all_nan_with(dc, dc.keys(), "clean reference is silent")


def test_silent_pair_mean_ignores_the_nan_and_counts_it():
    clean, estimate = speechlike(1.5), speechlike(1.5, seed=1)
    rows = [score_clip(clean, estimate, SR, ["stoi"]), score_clip(np.zeros_like(clean), estimate, SR, ["stoi"])]
    summary = summarize(rows, ["stoi"])
    assert summary.failures["stoi"] == 1 and summary.counts["stoi"] == 1
    assert summary.means["stoi"] == pytest.approx(rows[0]["stoi"])  # the silent pair did not pull it down


def test_a_tenth_of_a_second_is_nan_with_the_length_for_scorers_that_need_more():
    clean = speechlike(0.1)
    scores = score_clip(clean, clean + 0.01, SR, ["pesq_wb", "pesq_nb", "dnsmos", "plcmos"])
    assert_all_nan_with(scores, scores.keys(), "clip is 0.100 s")
    short = score_clip(clean, clean, SR, ["stoi", "estoi"])
    assert_all_nan_with(short, short.keys(), "30 non-silent STFT frames")


def test_clipped_and_over_full_scale_estimates_are_scored_not_failed():
    clean = speechlike(1.5)
    for estimate in (np.clip(20 * clean, -1, 1), 20 * clean):
        scores = score_clip(clean, estimate, SR, ALL_SCORERS)
        assert not scores.failures, scores.failures
        assert all(math.isfinite(value) for value in scores.values())


# --- item 8: after a resume, metrics.csv holds each step once ---


def _logged(path) -> list[tuple[int, str]]:
    import csv

    with open(path, newline="") as handle:
        return [(int(row["step"]), row["train/loss"]) for row in csv.DictReader(handle)]


def test_resumed_csv_log_drops_the_steps_the_killed_attempt_logged_past_its_checkpoint(tmp_path):
    from voipdns.loggers import ResumableCSVLogger

    first = ResumableCSVLogger(tmp_path, name="csv", version="")
    for step in range(8):  # killed after step 7; its last checkpoint was at step 5
        first.log_metrics({"train/loss": float(step)}, step)
    first.save()
    path = tmp_path / "csv" / "metrics.csv"
    assert [step for step, _ in _logged(path)] == list(range(8))

    resumed = ResumableCSVLogger(tmp_path, name="csv", version="")
    for step in range(5, 10):
        resumed.log_metrics({"train/loss": 100.0 + step}, step)
    resumed.save()
    rows = _logged(path)
    assert [step for step, _ in rows] == list(range(10)), rows  # every step once, in order
    assert rows[4] == (4, "4.0") and rows[5] == (5, "105.0")  # old rows kept up to the resume, then the redo


# --- item 10: a user's mistake is one line and exit 2; Ctrl-C prints the command that resumes the run ---

ENHANCE = [sys.executable, "-m", "voipdns.cli.enhance"]


def _cli(command: list[str], tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    environment.pop("HYDRA_FULL_ERROR", None) if "HYDRA_FULL_ERROR" not in env else None
    return subprocess.run([*command, f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True,
                          env=environment, timeout=120, cwd=tmp_path)  # fmt: skip


def test_every_missing_mandatory_key_is_named_at_once_even_behind_an_interpolation():
    from voipdns.cli.entry import UsageError, check_mandatory, missing_mandatory_keys

    cfg = OmegaConf.create({"a": "???", "b": {"c": "???", "d": [1, "???"]}, "e": "${a}", "f": 1,
                            "data": {"train": {"root": "???"}, "test": {"root": "${..train.root}"}}})  # fmt: skip
    assert missing_mandatory_keys(cfg) == ["a", "b.c", "b.d.1", "data.train.root"]
    with pytest.raises(UsageError, match=r"missing mandatory value\(s\): a, b\.c, b\.d\.1, data\.train\.root; "
                                         r".* a=\.\.\. b\.c=\.\.\."):  # fmt: skip
        check_mandatory(cfg)
    check_mandatory(cfg, needed=["f"])  # only what the run reads is demanded
    with pytest.raises(UsageError, match=r"value\(s\): data\.train\.root;"):  # read through an interpolation
        check_mandatory(cfg, needed=["data.test"])


def test_user_error_inside_a_hydra_instantiation_is_one_line_and_exit_2(capsys):
    from hydra.errors import InstantiationException

    from voipdns.cli.entry import USAGE_EXIT_CODE, cli_entry

    def task(cfg):
        try:
            raise FileNotFoundError("audio folder /data/x does not exist or is not a directory")
        except FileNotFoundError as error:  # how hydra.utils.instantiate reports a constructor's error
            raise InstantiationException("Error in call to target 'Dataset':\nFileNotFoundError(...)") from error

    with pytest.raises(SystemExit) as stop:
        cli_entry()(task)(OmegaConf.create({"x": 1}))
    assert stop.value.code == USAGE_EXIT_CODE
    assert capsys.readouterr().err.endswith("error: audio folder /data/x does not exist or is not a directory\n")

    def bug(cfg):
        raise ZeroDivisionError("a bug keeps its traceback")

    with pytest.raises(ZeroDivisionError):
        cli_entry()(bug)(OmegaConf.create({"x": 1}))


@pytest.mark.slow
def test_user_error_is_one_line_with_exit_2_and_hydra_full_error_keeps_the_traceback(tmp_path):
    result = _cli(ENHANCE, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1] == (
        "python -m voipdns.cli.enhance: error: missing mandatory value(s): input; "
        "set them on the command line: input=..."  # checkpoint defaults to the shipped voipdns-gtcrn
    ), result.stderr[-2000:]

    sf.write(tmp_path / "a.wav", speechlike(0.5), SR)
    missing_file = _cli([*ENHANCE, f"checkpoint={tmp_path / 'nope.ckpt'}", f"input={tmp_path / 'a.wav'}"], tmp_path)
    assert missing_file.returncode == 2 and "Traceback" not in missing_file.stderr
    assert f"error: checkpoint file {tmp_path / 'nope.ckpt'} does not exist" in missing_file.stderr

    full = _cli(ENHANCE, tmp_path, HYDRA_FULL_ERROR="1")
    assert full.returncode != 0 and "Traceback" in full.stderr and "UsageError" in full.stderr


def _interrupted_run_stderr(tmp_path, capsys, monkeypatch, task) -> str:
    from types import SimpleNamespace

    from voipdns.cli import entry
    from voipdns.cli.common import training_resume_overrides

    hydra_run = SimpleNamespace(overrides=SimpleNamespace(task=["run_name=my_run", "net.hidden=8"]),
                                runtime=SimpleNamespace(output_dir=str(tmp_path)))  # fmt: skip
    monkeypatch.setattr(entry.HydraConfig, "get", staticmethod(lambda: hydra_run))
    monkeypatch.setattr(entry.HydraConfig, "initialized", staticmethod(lambda: True))
    cfg = OmegaConf.create({"run_name": "my_run", "paths": {"output_dir": str(tmp_path)}})
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        entry.cli_entry(resume=training_resume_overrides)(task)(cfg)
    assert stop.value.code == entry.INTERRUPTED_EXIT_CODE
    return capsys.readouterr().err


def test_ctrl_c_prints_the_exact_resume_command(tmp_path, capsys, monkeypatch):
    def interrupted(cfg):
        raise KeyboardInterrupt

    err = _interrupted_run_stderr(tmp_path, capsys, monkeypatch, interrupted)
    expected = f"net.hidden=8 hydra.run.dir={tmp_path} run_name=my_run ckpt_path=last"
    assert "interrupted. Continue where it stopped with:" in err and err.strip().endswith(expected), err


def test_ctrl_c_after_lightnings_graceful_shutdown_prints_it_too(tmp_path, capsys, monkeypatch):
    def lightning_like(cfg):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            sys.exit(1)  # what Lightning's trainer does after on_exception callbacks

    assert "ckpt_path=last" in _interrupted_run_stderr(tmp_path, capsys, monkeypatch, lightning_like)


# --- item 11: an unwritable checkpoint folder stops the run with one message; last.ckpt stays intact ---


def test_atomic_write_keeps_the_old_checkpoint_when_the_folder_refuses_the_new_one(tmp_path):
    import errno

    from voipdns.callbacks.checkpoints import CheckpointWriteError, write_atomically

    last = tmp_path / "last.ckpt"
    write_atomically(lambda partial: open(partial, "wb").write(b"step 2"), str(last), True, None)
    assert last.read_bytes() == b"step 2" and not list(tmp_path.glob("*.partial"))

    def refused(partial):
        raise PermissionError(errno.EACCES, "Permission denied", partial)

    for save in (refused, lambda partial: None):  # None: fsspec swallowed the PermissionError, nothing written
        with pytest.raises(CheckpointWriteError) as info:
            write_atomically(save, str(last), True, str(last))
        assert f"cannot write checkpoint {last}" in str(info.value)
        assert f"the last good checkpoint {last} is intact" in str(info.value) and info.value.errno == errno.EACCES
        assert last.read_bytes() == b"step 2"


def test_training_stops_with_one_message_when_checkpoints_stop_being_written(tmp_path):
    import lightning as L
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from voipdns.callbacks.checkpoints import (
        AtomicModelCheckpoint,
        AtomicOnExceptionCheckpoint,
        CheckpointWriteError,
    )
    from voipdns.cli.entry import one_line, user_error_in  # how voipdns-train reports it: one line, exit 2

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class FolderTurnsReadOnly(TorchCheckpointIO):
        """Writes the first checkpoint, then does nothing, as fsspec does when the final move is refused."""

        saves = 0

        def save_checkpoint(self, checkpoint, path, storage_options=None):
            FolderTurnsReadOnly.saves += 1
            if FolderTurnsReadOnly.saves == 1:
                super().save_checkpoint(checkpoint, path, storage_options)

    folder = tmp_path / "checkpoints"
    trainer = L.Trainer(
        max_steps=6, logger=False, enable_progress_bar=False, enable_model_summary=False,
        plugins=[FolderTurnsReadOnly()],
        callbacks=[AtomicModelCheckpoint(dirpath=folder, save_top_k=0, save_last=True, every_n_train_steps=2),
                   AtomicOnExceptionCheckpoint(dirpath=folder)],
    )  # fmt: skip
    with pytest.raises(CheckpointWriteError, match=r"last\.ckpt: nothing was written.*last\.ckpt is intact") as info:
        trainer.fit(Tiny(), torch.utils.data.DataLoader(torch.randn(16, 2), batch_size=2))
    assert one_line(user_error_in(info.value)).startswith(f"cannot write checkpoint {folder / 'last.ckpt'}")
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 2  # the good one, whole
    assert sorted(path.name for path in folder.iterdir()) == ["last.ckpt"]  # no on_exception.ckpt attempt


# --- item 9: a truncated WAV is read with a warning naming both durations, and counted in the run summary ---


def _truncated_wav(path, header_seconds=5.0, present_seconds=1.7):
    sf.write(path, 0.1 * np.sin(np.arange(int(header_seconds * SR)) / 7), SR, subtype="PCM_16")
    data_start = 44  # soundfile writes a canonical 44-byte header for 16-bit PCM mono
    path.write_bytes(path.read_bytes()[: data_start + int(present_seconds * SR) * 2])
    return path


def test_truncated_wav_warns_with_both_durations_and_is_counted(tmp_path, monkeypatch):
    from voipdns.audio import load_audio
    from voipdns.data.reader import AudioReader
    from voipdns.truncated_audio import LOG_ENV, TruncatedAudioWarning, forget_recorded, summary_line

    monkeypatch.delenv(LOG_ENV, raising=False)
    forget_recorded()
    path = _truncated_wav(tmp_path / "cut.wav")
    sf.write(tmp_path / "whole.wav", speechlike(0.5), SR)
    with pytest.warns(TruncatedAudioWarning, match=r"cut\.wav \(5\.00 s in the header, 1\.70 s present\)"):
        wav = load_audio(path, SR)
    assert wav.shape[-1] == int(1.7 * SR)  # what is there is read
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole file and a second read of the cut one: no new warning
        load_audio(tmp_path / "whole.wav", SR)
        AudioReader(SR).load(path)
    assert summary_line() == (f"1 truncated WAV file(s) were read short (header longer than the data): "
                              f"{path} (5.00 s in the header, 1.70 s present)")  # fmt: skip


def test_truncated_wav_read_in_a_worker_process_reaches_the_run_summary(tmp_path, monkeypatch, capsys):
    import multiprocessing

    from voipdns.audio import load_audio
    from voipdns.cli.entry import cli_entry

    path = _truncated_wav(tmp_path / "cut.wav")

    def task(cfg):
        worker = multiprocessing.get_context("fork").Process(target=load_audio, args=(path, SR))
        worker.start()
        worker.join()
        assert worker.exitcode == 0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli_entry()(task)(OmegaConf.create({}))
    err = capsys.readouterr().err
    assert f"warning: 1 truncated WAV file(s) were read short (header longer than the data): {path}" in err
