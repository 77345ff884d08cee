"""Demucs base loss: waveform L1/L2, multi-resolution STFT loss (parity with `denoiser`), and its yaml."""

from __future__ import annotations

import math
import types

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from voipdns.losses.composite import CompositeLoss
from voipdns.losses.multires_stft import MultiResolutionSTFTLoss, stft_loss
from voipdns.losses.waveform import WaveformL1Loss, WaveformL2Loss


def signals(batch: int = 2, samples: int = 8000) -> tuple[torch.Tensor, torch.Tensor]:
    clean = torch.randn(batch, 1, samples)
    return clean + 0.3 * torch.randn(batch, 1, samples), clean


def test_waveform_losses_known_values():
    clean = torch.zeros(1, 1, 4)
    estimate = torch.tensor([[[1.0, -1.0, 2.0, 0.0]]])
    outputs, batch = {"estimate": estimate}, {"clean": clean}
    assert WaveformL1Loss()(outputs, batch).item() == pytest.approx(1.0)
    assert WaveformL2Loss()(outputs, batch).item() == pytest.approx(1.5)


def test_waveform_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"estimate \[1, 1, 4\] and clean \[1, 1, 5\] differ"):
        WaveformL1Loss()({"estimate": torch.zeros(1, 1, 4)}, {"clean": torch.zeros(1, 1, 5)})
    with pytest.raises(KeyError, match="no 'clean' reference"):
        WaveformL1Loss()({"estimate": torch.zeros(1, 1, 4)}, {"noisy": torch.zeros(1, 1, 4)})


def test_stft_loss_is_zero_for_identical_signals():
    _, clean = signals()
    sc, mag = stft_loss(clean, clean)
    assert sc.item() == 0.0 and mag.item() == 0.0


def test_stft_loss_of_a_scaled_signal():
    """Halving the waveform halves every magnitude: sc = 0.5, |log ratio| = ln 2 (no bin near the floor)."""
    _, clean = signals()
    sc, mag = stft_loss(0.5 * clean, clean)
    assert sc.item() == pytest.approx(0.5, abs=1e-4)
    assert mag.item() == pytest.approx(math.log(2), abs=1e-3)


def test_term_applies_factors_and_accepts_both_layouts():
    estimate, clean = signals()
    sc, mag = stft_loss(estimate, clean)
    term = MultiResolutionSTFTLoss(factor_sc=0.5, factor_mag=2.0)
    value = term({"estimate": estimate}, {"clean": clean})
    assert value.item() == pytest.approx(0.5 * sc.item() + 2.0 * mag.item(), rel=1e-5)
    sc2, mag2 = term.components(estimate.squeeze(1), clean.squeeze(1))
    assert sc2.item() == pytest.approx(0.5 * sc.item(), rel=1e-5)
    assert mag2.item() == pytest.approx(2.0 * mag.item(), rel=1e-5)


def test_term_gradient_is_finite_even_for_silence():
    clean = torch.zeros(1, 1, 4000)
    clean[..., 1000:2000] = torch.randn(1000)
    estimate = torch.zeros(1, 1, 4000, requires_grad=True)
    MultiResolutionSTFTLoss()({"estimate": estimate}, {"clean": clean}).backward()
    assert torch.isfinite(estimate.grad).all()


def test_windows_stay_out_of_checkpoints():
    assert MultiResolutionSTFTLoss().state_dict() == {}


def test_bad_resolution_lists_are_rejected():
    with pytest.raises(ValueError, match="must have the same length"):
        MultiResolutionSTFTLoss(fft_sizes=[512, 1024], hop_samples=[50], win_samples=[240])
    with pytest.raises(ValueError, match="window longer than its FFT"):
        MultiResolutionSTFTLoss(fft_sizes=[256], hop_samples=[50], win_samples=[400])


def test_demucs_loss_yaml_instantiates_and_weights_terms(project_root):
    loss = instantiate(OmegaConf.load(project_root / "conf/loss/demucs.yaml"))
    assert isinstance(loss, CompositeLoss)
    assert loss.weights == {"l1": 1.0, "stft": 0.1}
    estimate, clean = signals()
    estimate.requires_grad_(True)
    out = loss({"estimate": estimate}, {"clean": clean})
    assert set(out) == {"loss", "l1", "stft"}
    assert out["loss"].item() == pytest.approx(out["l1"].item() + 0.1 * out["stft"].item(), rel=1e-6)
    out["loss"].backward()
    assert torch.isfinite(estimate.grad).all()


# --- parity with the reference package ---


@pytest.fixture
def reference_stft_loss(monkeypatch):
    module = pytest.importorskip("denoiser.stft_loss", reason="reference package `denoiser` not installed")
    # denoiser 0.1.5 calls torch.stft without return_complex, which torch >= 2 refuses. Give that module a
    # torch whose stft returns the old [..., 2] real/imag layout; the reference arithmetic runs unchanged.
    legacy = types.SimpleNamespace(**{name: getattr(torch, name) for name in dir(torch) if not name.startswith("__")})
    legacy.stft = lambda *args, **kwargs: torch.view_as_real(torch.stft(*args, return_complex=True, **kwargs))
    monkeypatch.setattr(module, "torch", legacy)
    return module.MultiResolutionSTFTLoss


@pytest.mark.parametrize("samples", [4000, 16_017])
def test_matches_reference(reference_stft_loss, samples):
    estimate, clean = signals(samples=samples)
    estimate[0, 0, :1000] = 0.0  # silent stretch: exercises the magnitude floor
    reference = reference_stft_loss(factor_sc=0.3, factor_mag=0.7)
    ours = MultiResolutionSTFTLoss(factor_sc=0.3, factor_mag=0.7)
    expected_sc, expected_mag = reference(estimate.squeeze(1), clean.squeeze(1))
    sc, mag = ours.components(estimate, clean)
    assert abs(sc.item() - expected_sc.item()) < 1e-5
    assert abs(mag.item() - expected_mag.item()) < 1e-5
