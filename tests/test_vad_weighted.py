"""VAD-weighted loss: exactly the unweighted loss at mu 0.5, known values, VAD sources, edge cases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from voipdns.losses.percepnet import PercepNetGainLoss
from voipdns.losses.vad_weighted import (
    FrameWiseLoss,
    ReducedFrameLoss,
    STFTMagnitudeFrameLoss,
    VADWeightedLoss,
    WaveformFrameLoss,
    align_vad,
    energy_vad,
    frame_signal,
)
from voipdns.losses.waveform import WaveformL1Loss

SR = 16000


def _half_speech(batch: int = 2, samples: int = 8000) -> torch.Tensor:
    """Loud noise in the first half, digital silence in the second: a VAD that is easy to predict."""
    clean = torch.zeros(batch, 1, samples)
    clean[..., : samples // 2] = 0.3 * torch.randn(batch, 1, samples // 2)
    return clean


def _pair(samples: int = 8000) -> tuple[dict, dict]:
    clean = _half_speech(samples=samples)
    estimate = clean + 0.05 * torch.randn_like(clean)
    return {"estimate": estimate}, {"clean": clean, "noisy": estimate.detach().clone()}


BASES = [
    WaveformFrameLoss("l1"),
    WaveformFrameLoss("l2", frame_seconds=0.032, hop_seconds=0.016),
    STFTMagnitudeFrameLoss("l1"),
    STFTMagnitudeFrameLoss("l2", fft_size=256, hop_samples=64, win_samples=256),
]


@pytest.mark.parametrize("base", BASES, ids=lambda b: f"{type(b).__name__}-{b.distance}")
def test_mu_half_equals_unweighted_exactly(base):
    outputs, batch = _pair()
    weighted = VADWeightedLoss(base, mu=0.5)
    assert torch.allclose(weighted(outputs, batch), base(outputs, batch), rtol=0, atol=0)
    batch["vad"] = (torch.rand(2, 50) > 0.5).float()  # with labels too
    assert torch.allclose(weighted(outputs, batch), base(outputs, batch), rtol=0, atol=0)


@pytest.mark.parametrize("mu", [0.0, 0.9, 1.0])
def test_weighted_value_matches_definition(mu):
    base = WaveformFrameLoss("l1")
    outputs, batch = _pair()
    losses = base.frame_losses(outputs, batch)
    active = energy_vad(batch["clean"], base, losses.shape[-1], -40.0, -80.0)
    # first half speech, second half silence (the frame straddling the boundary counts as speech)
    assert active[:, :20].all() and not active[:, 26:].any()
    expected = 2.0 / losses.numel() * (mu * losses[active].sum() + (1 - mu) * losses[~active].sum())
    assert torch.allclose(VADWeightedLoss(base, mu=mu)(outputs, batch), expected, rtol=1e-6)


def test_no_speech_and_all_speech_clips_are_finite_and_scaled():
    base = WaveformFrameLoss("l2")
    estimate = (0.1 * torch.randn(1, 1, 4000)).requires_grad_()
    silent = {"clean": torch.zeros(1, 1, 4000)}
    loud = {"clean": 0.3 * torch.randn(1, 1, 4000)}
    loss = VADWeightedLoss(base, mu=0.9)
    for batch, weight in ((silent, 0.2), (loud, 1.8)):  # 2 (1 - mu) with no speech, 2 mu with speech only
        value = loss({"estimate": estimate}, batch)
        assert torch.allclose(value, weight * base({"estimate": estimate}, batch), rtol=1e-6)
        (grad,) = torch.autograd.grad(value, estimate)
        assert torch.isfinite(grad).all()


@pytest.mark.parametrize("base", BASES, ids=lambda b: f"{type(b).__name__}-{b.distance}")
def test_all_zero_inputs_give_finite_loss_and_gradients(base):
    estimate = torch.zeros(2, 1, 4000, requires_grad=True)
    value = VADWeightedLoss(base, mu=0.9)({"estimate": estimate}, {"clean": torch.zeros(2, 1, 4000)})
    value.backward()
    assert torch.isfinite(value) and value.item() < 1e-5
    assert torch.isfinite(estimate.grad).all()


def test_vad_labels_are_resampled_to_the_base_frames():
    base = WaveformFrameLoss("l1")  # 20 ms frames, 10 ms hop, not centred: frame t centre = t*160 + 160
    labels = torch.zeros(1, 100)  # 5 ms labels over 8000 samples
    labels[0, 40:] = 1.0  # speech from sample 3200 on
    active = align_vad(labels, 49, 8000, base, vad_hop_samples=None)
    assert active.shape == (1, 49)
    assert not active[0, :19].any() and active[0, 19:].all()  # centre 19*160+160 = 3200
    same = align_vad(labels[:, None], 49, 8000, base, vad_hop_samples=80)
    assert torch.equal(active, same)
    with pytest.raises(ValueError, match=r"batch\['vad'\] must be \[B, frames\]"):
        align_vad(torch.zeros(4), 49, 8000, base, None)


def test_labels_take_precedence_over_energy():
    base = WaveformFrameLoss("l1")
    outputs, batch = _pair()
    losses = base.frame_losses(outputs, batch)
    batch["vad"] = torch.zeros(2, losses.shape[-1])  # labels say: no target speech at all
    assert torch.allclose(VADWeightedLoss(base, mu=0.9)(outputs, batch), 0.2 * losses.mean(), rtol=1e-6)


def test_frame_counts_match_the_base_losses():
    wav = torch.randn(2, 1, 4000 + 37)
    stft = STFTMagnitudeFrameLoss()
    frames = stft.frame_losses({"estimate": wav}, {"clean": wav.flip(-1)})
    assert frames.shape == (2, (4000 + 37) // 160 + 1)
    assert frame_signal(wav, 512, 160, centered=True).shape == (2, frames.shape[1], 512)
    assert frame_signal(wav, 320, 160, centered=False).shape == (2, 25, 320)  # ceil((4037 - 320) / 160) + 1
    assert frame_signal(wav, 320, 160, centered=True, num_frames=30).shape == (2, 30, 320)


def test_wraps_a_loss_that_returns_frames_itself():
    gains = torch.rand(2, 51, 34, requires_grad=True)  # PercepNet frames: ceil(8000 / 160) + 1
    outputs = {"estimate": torch.zeros(2, 1, 8000), "gains": gains, "gains_target": torch.rand(2, 51, 34)}
    batch = {"clean": _half_speech()}
    base = ReducedFrameLoss(PercepNetGainLoss(reduction="none"))
    assert isinstance(base, FrameWiseLoss)
    assert torch.allclose(VADWeightedLoss(base, mu=0.5)(outputs, batch), PercepNetGainLoss()(outputs, batch))
    value = VADWeightedLoss(base, mu=0.9)(outputs, batch)
    value.backward()
    assert torch.isfinite(gains.grad).all()
    with pytest.raises(ValueError, match="reduction: none"):
        ReducedFrameLoss(PercepNetGainLoss())(outputs, batch)


def test_argument_errors():
    with pytest.raises(TypeError, match="not frame-wise"):
        VADWeightedLoss(WaveformL1Loss())
    with pytest.raises(ValueError, match=r"mu must be in \[0, 1\]"):
        VADWeightedLoss(WaveformFrameLoss(), mu=1.5)
    with pytest.raises(ValueError, match="energy_threshold_db must be < 0"):
        VADWeightedLoss(WaveformFrameLoss(), energy_threshold_db=10.0)
    with pytest.raises(ValueError, match="distance"):
        WaveformFrameLoss("l3")
    assert not isinstance(nn.Identity(), FrameWiseLoss)


def test_vad_weighted_config_instantiates(tmp_path):
    import hydra

    from hydra_helpers import compose_config

    cfg = compose_config("train", ["loss=vad_weighted"], tmp_path)
    loss = hydra.utils.instantiate(cfg.loss)
    assert loss.terms["gain"].mu == 0.9 and isinstance(loss.terms["gain"].base.loss, PercepNetGainLoss)
    gains = torch.rand(1, 51, 34)
    outputs = {
        "estimate": torch.zeros(1, 1, 8000),
        "gains": gains,
        "gains_target": gains.clone(),
        "strengths": torch.rand(1, 51, 34),
        "strengths_target": torch.rand(1, 51, 34),
    }
    values = loss(outputs, {"clean": _half_speech(1)})
    assert values["gain"].item() < 1e-6 and torch.isfinite(values["loss"])
