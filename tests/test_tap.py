"""TAP estimator (architecture, official and own file formats), TAPLoss (frozen estimator, gradients), ramps,
eGeMAPS LLD extraction and alignment, TAP estimator data/task, and the TAP loss configs."""

from __future__ import annotations

import math

import hydra
import numpy as np
import pytest
import torch
from torch import nn

from hydra_helpers import compose_config
from voipdns.features.egemaps import EGEMAPS_LLD_NAMES, align_frames, egemaps_lld, lld_frame_count
from voipdns.losses.composite import CompositeLoss
from voipdns.losses.ramp import ConstantRamp, CosineWarmup, DelayedStart, LinearWarmup
from voipdns.losses.tap import TAPLoss
from voipdns.losses.waveform import WaveformL1Loss
from voipdns.tap.estimator import (
    TAPEstimator,
    estimator_stft,
    interleave_real_imag,
    load_estimator,
    save_estimator,
)

SR = 16000
NUM_PARAMS = 4_872_729


def _speechlike(batch: int = 2, seconds: float = 0.5) -> torch.Tensor:
    """Harmonic tone with a syllable-rate envelope: voiced enough for openSMILE, cheap to make."""
    t = torch.arange(int(seconds * SR)) / SR
    wav = sum(torch.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 12))
    envelope = 0.5 * (1 - torch.cos(2 * math.pi * 4 * t))
    return (0.1 * wav * envelope).expand(batch, 1, -1).clone()


@pytest.fixture(scope="module")
def estimator() -> TAPEstimator:
    torch.manual_seed(0)
    return TAPEstimator()


@pytest.fixture(scope="module")
def estimator_file(tmp_path_factory, estimator) -> str:
    """Our file format, with statistics."""
    model = TAPEstimator()
    model.load_state_dict(estimator.state_dict())
    model.set_statistics(list(EGEMAPS_LLD_NAMES), torch.arange(25.0), torch.full((25,), 2.0))
    return str(save_estimator(model, tmp_path_factory.mktemp("tap") / "est.pt"))


class ToyEnhancer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


# --- estimator -------------------------------------------------------------------------------------------
def test_estimator_parameters_and_official_key_names(estimator):
    assert sum(p.numel() for p in estimator.parameters()) == NUM_PARAMS
    state = estimator.state_dict()
    assert state["lstm.weight_ih_l0"].shape == (1024, 514)
    assert state["lstm.weight_hh_l2_reverse"].shape == (1024, 256)
    assert state["linear1.weight"].shape == (256, 512)
    assert state["linear2.weight"].shape == (25, 256)
    assert len(state) == 3 * 2 * 4 + 4  # LSTM: 3 layers x 2 directions x 4 tensors; two Linear layers
    assert not any("feature_" in key for key in state)  # statistics never change the official keys


def test_stft_is_rectangular_centred_and_interleaved():
    wav = torch.randn(2, 1, 1600 + 37)
    features = interleave_real_imag(estimator_stft(wav))
    assert features.shape == (2, (1600 + 37) // 160 + 1, 514)
    padded = torch.nn.functional.pad(wav[:, 0], (256, 256), mode="reflect")
    frame3 = torch.fft.rfft(padded[:, 3 * 160 : 3 * 160 + 512])  # no window: plain DFT of the frame
    assert torch.allclose(features[:, 3, 0::2], frame3.real, atol=1e-4)
    assert torch.allclose(features[:, 3, 1::2], frame3.imag, atol=1e-4)


def test_estimator_output_shape_and_short_input_error(estimator):
    with torch.no_grad():
        assert estimator(torch.randn(2, 1, 3200)).shape == (2, 21, 25)
    with pytest.raises(ValueError, match="more than 256 samples"):
        estimator(torch.randn(1, 1, 200))
    with pytest.raises(ValueError, match="mono"):
        estimator(torch.randn(1, 2, 3200))


def test_loads_official_format_written_here(tmp_path, estimator):
    path = tmp_path / "official.pt"
    # the official file: a training checkpoint dict whose weights sit under "model_state_dict"
    torch.save({"epoch": 7, "model_state_dict": estimator.state_dict(), "optimizer_state_dict": {}}, path)
    loaded = load_estimator(path)
    wav = torch.randn(1, 1, 4000)
    with torch.no_grad():
        assert torch.equal(loaded(wav), estimator(wav))
    assert not loaded.has_statistics
    with pytest.raises(ValueError, match="no z-score statistics"):
        loaded.denormalize(torch.zeros(25))


def test_own_format_round_trip_and_official_reader_compatibility(estimator_file, estimator):
    loaded = load_estimator(estimator_file)
    assert loaded.feature_names == list(EGEMAPS_LLD_NAMES)
    assert torch.equal(loaded.denormalize(torch.ones(25)), torch.arange(25.0) + 2.0)
    # what the official TAPLoss code does with a file: torch.load(...)["model_state_dict"] into the module
    plain = TAPEstimator()
    plain.load_state_dict(torch.load(estimator_file, weights_only=True)["model_state_dict"], strict=True)
    assert torch.equal(plain.linear2.weight, estimator.linear2.weight)


def test_bad_estimator_files_name_the_problem(tmp_path, estimator):
    with pytest.raises(FileNotFoundError, match="voipdns-train-tap"):
        load_estimator(tmp_path / "absent.pt")
    torch.save(estimator.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="model_state_dict"):
        load_estimator(tmp_path / "bare.pt")
    state = dict(estimator.state_dict())
    state["extra.weight"] = state.pop("linear1.weight")
    torch.save({"model_state_dict": state}, tmp_path / "keys.pt")
    with pytest.raises(ValueError, match=r"missing \['linear1.weight'\], unexpected \['extra.weight'\]"):
        load_estimator(tmp_path / "keys.pt")


# --- TAPLoss ---------------------------------------------------------------------------------------------
def test_gradients_reach_the_enhancer_and_never_the_estimator(estimator_file):
    loss = TAPLoss(estimator_file)
    net = ToyEnhancer()
    clean = _speechlike()
    noisy = clean + 0.05 * torch.randn_like(clean)
    value = loss({"estimate": net(noisy)}, {"clean": clean, "noisy": noisy})
    value.backward()
    assert value.item() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert all(p.grad is None and not p.requires_grad for p in loss.estimator.parameters())


def test_estimator_absent_from_parameters_state_and_optimizer(estimator_file):
    tap = TAPLoss(estimator_file)
    loss = CompositeLoss({"l1": WaveformL1Loss(), "tap": tap}, {"l1": 1.0, "tap": 1.0})
    assert list(loss.parameters()) == [] and loss.state_dict() == {}
    net = ToyEnhancer()
    optimizer = torch.optim.Adam(net.parameters())  # the Task rule: only net.parameters()
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimised.isdisjoint(id(p) for p in tap.estimator.parameters())
    loss.train()
    assert not tap.estimator.training  # eval mode survives a parent's .train()
    tap.estimator.train()
    assert not tap.estimator.training
    loss.double()  # .to()/.double() reach the hidden estimator (Lightning moves the loss with the Task)
    assert tap.estimator.linear1.weight.dtype == torch.float64


def test_enhancement_task_optimizer_excludes_estimator(estimator_file):
    from voipdns.tasks.enhancement import EnhancementTask

    task = EnhancementTask(
        net={"_target_": "voipdns.models.demucs.Demucs", "hidden": 4, "depth": 2, "resample": 1},
        loss={
            "_target_": "voipdns.losses.composite.CompositeLoss",
            "terms": {
                "l1": {"_target_": "voipdns.losses.waveform.WaveformL1Loss"},
                "tap": {"_target_": "voipdns.losses.tap.TAPLoss", "estimator_path": estimator_file},
            },
            "weights": {"l1": 1.0, "tap": 1.0},
        },
        optimizer={"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3},
    )
    optimizer = task.configure_optimizers()
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in task.net.parameters()}
    estimator = task.loss.terms["tap"].estimator
    assert optimised.isdisjoint(id(p) for p in estimator.parameters())
    assert not any(key.startswith("loss.") for key in task.state_dict())  # not in enhancement checkpoints
    task.train()
    assert not estimator.training


@pytest.mark.parametrize("distance,weighting", [("l1", "none"), ("l2", "none"), ("l1", "energy"), ("l2", "energy")])
def test_silent_input_gives_finite_loss_and_gradients(estimator_file, distance, weighting):
    loss = TAPLoss(estimator_file, distance=distance, frame_weighting=weighting)
    estimate = torch.zeros(2, 1, 3200, requires_grad=True)
    value = loss({"estimate": estimate}, {"clean": torch.zeros(2, 1, 3200)})
    value.backward()
    assert 0.0 <= value.item() < 1e-6  # identical inputs, identical LLDs (up to kernel rounding)
    assert torch.isfinite(estimate.grad).all()


def test_distance_and_energy_weighting_values(estimator_file):
    clean, estimate = _speechlike(1), 0.5 * _speechlike(1)
    outputs, batch = {"estimate": estimate}, {"clean": clean}
    l1 = TAPLoss(estimator_file, distance="l1")
    l2 = TAPLoss(estimator_file, distance="l2")
    weighted = TAPLoss(estimator_file, frame_weighting="energy")
    est = l1.estimator
    with torch.no_grad():
        diff = est(estimate) - est(clean)
        spec = estimator_stft(estimate)
        energy = (spec.abs() ** 2).sum(dim=1) * 2 / 512
        assert torch.allclose(l1(outputs, batch), diff.abs().mean(), rtol=1e-5)
        assert torch.allclose(l2(outputs, batch), diff.square().mean(), rtol=1e-5)
        expected = (torch.sigmoid(energy)[..., None] * diff.abs()).mean()
        assert torch.allclose(weighted(outputs, batch), expected, rtol=1e-5)


def test_taploss_argument_errors(estimator_file):
    with pytest.raises(ValueError, match="distance"):
        TAPLoss(estimator_file, distance="l3")
    with pytest.raises(ValueError, match="frame_weighting"):
        TAPLoss(estimator_file, frame_weighting="loudness")
    with pytest.raises(ValueError, match="exactly one"):
        TAPLoss()
    with pytest.raises(ValueError, match="differ in shape"):
        TAPLoss(estimator_file)({"estimate": torch.zeros(1, 1, 800)}, {"clean": torch.zeros(1, 1, 900)})


# --- ramps -----------------------------------------------------------------------------------------------
def test_ramp_values():
    assert ConstantRamp(0.3)(0) == 0.3 and ConstantRamp()(10**6) == 1.0
    linear = LinearWarmup(100)
    assert [linear(s) for s in (0, 25, 50, 100, 5000)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    delayed = LinearWarmup(100, start=0.2, delay_steps=10)
    assert delayed(9) == 0.0 and delayed(10) == pytest.approx(0.2) and delayed(60) == pytest.approx(0.6)
    cosine = CosineWarmup(100)
    assert cosine(0) == 0.0 and cosine(50) == pytest.approx(0.5) and cosine(100) == pytest.approx(1.0)
    assert cosine(25) == pytest.approx(0.5 * (1 - math.cos(math.pi / 4)))
    assert LinearWarmup(0)(0) == 1.0
    start = DelayedStart(10, value=0.5)
    assert (start(9), start(10), start(11)) == (0.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        LinearWarmup(-1)


def test_ramp_plugs_into_composite_loss(estimator_file):
    tap = TAPLoss(estimator_file, ramp=LinearWarmup(10))
    loss = CompositeLoss({"l1": WaveformL1Loss(), "tap": tap}, {"l1": 1.0, "tap": 0.3})
    loss.set_progress(5)
    assert loss.effective_weight("tap") == pytest.approx(0.15)
    clean = _speechlike(1)
    out = loss({"estimate": 0.5 * clean}, {"clean": clean})
    assert torch.allclose(out["loss"], out["l1"] + 0.15 * out["tap"])
    loss.set_progress(0)
    assert torch.allclose(loss({"estimate": 0.5 * clean}, {"clean": clean})["loss"], out["l1"])


# --- eGeMAPS LLDs ----------------------------------------------------------------------------------------
def test_egemaps_lld_names_frames_and_alignment():
    wav = _speechlike(1, seconds=1.0)[0]
    names, lld = egemaps_lld(wav, SR)
    assert names == list(EGEMAPS_LLD_NAMES) and len(names) == 25
    assert lld.shape == (lld_frame_count(SR), 25) == (96, 25)
    assert lld.dtype == np.float32 and np.isfinite(lld).all()
    assert lld[40:60, names.index("F0semitoneFrom27.5Hz_sma3nz")].mean() > 20  # 140 Hz = 28.6 semitones
    aligned, valid = align_frames(lld, SR // 160 + 1)  # the estimator's 101 frames: last 5 have no LLD
    assert aligned.shape == (101, 25) and valid.sum() == 96 and not valid[-5:].any()
    with pytest.raises(ValueError, match="mono"):
        egemaps_lld(np.zeros((2, 16000)), SR)
    with pytest.raises(ValueError, match="at least"):
        egemaps_lld(np.zeros(100), SR)


# --- estimator training pieces ---------------------------------------------------------------------------
def test_tap_dataset_crops_are_hop_aligned(tmp_path):
    from voipdns.tap.data import TAPDataset
    from voipdns.tap.prepare import CorpusItem

    audio = (np.arange(16000) % 100).astype(np.int16)
    lld = np.tile(np.arange(96, dtype=np.float32)[:, None], (1, 25))  # row i holds i: alignment is visible
    np.save(tmp_path / "a.npy", audio)
    np.save(tmp_path / "l.npy", lld)
    item = CorpusItem(
        "x", "s", "train", 0, "x.flac", None, None, str(tmp_path / "a.npy"), str(tmp_path / "l.npy"), 16000
    )
    crops = TAPDataset([item], np.zeros(25), np.ones(25), segment_seconds=0.2)
    sample = crops[0]
    assert sample["wav"].shape == (1, 3200) and sample["target"].shape == (21, 25)
    first = int(sample["target"][0, 0])
    start = first * 160
    assert torch.allclose(sample["wav"][0], torch.from_numpy(audio[start : start + 3200] / 32767.0).float())
    assert torch.equal(
        sample["target"][sample["valid"], 0], torch.arange(first, first + int(sample["valid"].sum())).float()
    )
    whole = TAPDataset([item], np.zeros(25), np.ones(25))[0]
    assert whole["target"].shape == (101, 25) and int(whole["valid"].sum()) == 96


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_tap_estimator_task_step_and_export(tmp_path):
    from voipdns.tap.task import TAPEstimatorTask

    task = TAPEstimatorTask(list(EGEMAPS_LLD_NAMES), [0.0] * 25, [1.0] * 25, lr=1e-3)
    batch = {
        "wav": torch.randn(2, 1, 1600),
        "target": torch.randn(2, 11, 25),
        "valid": torch.tensor([[True] * 6 + [False] * 5] * 2),
    }
    loss = task.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and task.estimator.linear2.weight.grad is not None
    optimizer = task.configure_optimizers()
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == NUM_PARAMS
    loaded = load_estimator(task.export(tmp_path / "exported.pt"))
    assert loaded.feature_names == list(EGEMAPS_LLD_NAMES)


# --- configs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option,tap_key", [("demucs_tap", "terms.tap."), ("fullsubnet_tap", "terms.tap.")])
def test_tap_loss_configs_instantiate(option, tap_key, tmp_path, estimator_file):
    default = compose_config("train", [f"loss={option}"], tmp_path)
    node = default.loss
    for key in filter(None, tap_key.split(".")):
        node = node[key]
    assert node.estimator_path.endswith("checkpoints/tap_estimator/tap_estimator_ls100.pt")
    cfg = compose_config("train", [f"loss={option}", f"loss.{tap_key}estimator_path={estimator_file}"], tmp_path)
    loss = hydra.utils.instantiate(cfg.loss)
    tap = loss.terms["tap"]
    assert isinstance(tap, TAPLoss) and tap.weight_at(0) == 0.0 and tap.weight_at(2000) == 1.0
    if option == "demucs_tap":
        assert loss.weights == {"l1": 1.0, "stft": 0.3, "tap": 1.0}
    if option == "fullsubnet_tap":
        assert loss.weights == {"cirm": 1.0, "tap": 0.3}


def test_tap_estimator_config_composes(tmp_path):
    cfg = compose_config("tap_estimator", ["data.speech_dir=/nowhere"], tmp_path)
    assert cfg.data._target_ == "voipdns.tap.data.TAPDataModule"
    assert cfg.model._target_ == "voipdns.tap.task.TAPEstimatorTask"
    assert cfg.callbacks.model_checkpoint.monitor == "val/mse"


def test_shipped_estimator_loads_and_measures_noise(project_root):
    path = project_root / "checkpoints" / "tap_estimator" / "tap_estimator_ls100.pt"
    if not path.exists():
        pytest.skip(f"{path} not present (train it with recipes/tap_estimator/run.sh)")
    loss = TAPLoss(path)
    assert loss.estimator.feature_names == list(EGEMAPS_LLD_NAMES) and loss.estimator.has_statistics
    clean = _speechlike(1)
    with torch.no_grad():
        slightly, very = (
            loss({"estimate": clean + s * torch.randn_like(clean)}, {"clean": clean}) for s in (0.003, 0.03)
        )
    assert 0 < slightly < very  # more noise, further from the clean LLDs
