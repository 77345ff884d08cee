"""Seed mask U-Net: size, shapes for awkward lengths, causality/latency, and the SI-SNR loss."""

from __future__ import annotations

import math

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from voipdns.config import net_config
from voipdns.losses.sisnr import SiSnrLoss, si_snr_db
from voipdns.models.unet import NONCAUSAL_FUTURE_FRAMES, MaskUNet


def expected_parameters(c: int) -> int:
    """Count from the layer list: conv k x k (in -> out) = in*out*k*k + out, BatchNorm = 2*out."""

    def conv(i: int, o: int, k: int) -> int:
        return i * o * k * k + o

    widths = [c * 2**i for i in range(5)]
    encoder = conv(1, c, 3) + 2 * c + sum(conv(widths[i], widths[i + 1], 3) + 2 * widths[i + 1] for i in range(4))
    decoder = sum(
        conv(widths[i + 1], widths[i], 2) + 2 * widths[i] + conv(2 * widths[i], widths[i], 3) + 2 * widths[i]
        for i in range(4)
    )
    return encoder + decoder + conv(c, 1, 1)


def test_parameter_count_matches_layers_and_reference_size():
    count = sum(p.numel() for p in MaskUNet(base_channels=32).parameters())
    assert count == expected_parameters(32) == 3_835_937
    # reference.md says "~3.8 M": two significant digits round anything within +-1.3 % to 3.8 M
    assert abs(count - 3.8e6) / 3.8e6 < 0.013
    assert sum(p.numel() for p in MaskUNet(base_channels=8).parameters()) == expected_parameters(8)


@pytest.mark.parametrize("length", [2001, 1337, 101])  # odd lengths; 101 < half a window
def test_output_length_and_backward(length):
    net = MaskUNet(base_channels=4).train()
    clean = torch.randn(2, 1, length) * 0.1
    batch = {"noisy": clean + 0.05 * torch.randn_like(clean), "clean": clean}
    outputs = net.training_outputs(batch)
    assert outputs["estimate"].shape == (2, 1, length)
    loss = SiSnrLoss()(outputs, batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_core_handles_sizes_that_are_not_multiples_of_16():
    net = MaskUNet(base_channels=4).eval()
    mask = net.mask_from_magnitude(torch.rand(1, 1, 257, 37))
    assert mask.shape == (1, 1, 257, 37) and bool(((mask > 0) & (mask < 1)).all())


@pytest.mark.parametrize("causal", [True, False])
def test_latency_bounds_the_dependence_on_future_input(causal):
    net = MaskUNet(base_channels=4, causal=causal).eval()
    assert net.latency_samples == 512 + (0 if causal else NONCAUSAL_FUTURE_FRAMES * 128)
    noisy = torch.randn(1, 1, 12000)
    changed = noisy.clone()
    changed[..., 10000:] += torch.randn(2000)
    with torch.no_grad():
        before, after = net(noisy), net(changed)
    cut = 10000 - net.latency_samples
    assert torch.allclose(before[..., :cut], after[..., :cut], atol=1e-6)
    assert not torch.allclose(before[..., cut:10000], after[..., cut:10000], atol=1e-6)


def test_si_snr_known_values():
    torch.manual_seed(1)
    clean = torch.randn(1, 1, 16000)
    noise = torch.randn(1, 1, 16000)
    noise = noise - (noise * clean).sum() / clean.square().sum() * clean  # orthogonal to clean
    noise = noise * (clean.norm() / noise.norm()) / 10  # 20 dB below
    assert si_snr_db(clean + noise, clean).item() == pytest.approx(20.0, abs=0.05)
    scaled_and_shifted = 3 * (clean + noise) + 0.5
    assert si_snr_db(scaled_and_shifted, clean).item() == pytest.approx(20.0, abs=0.05)
    perfect = si_snr_db(clean, clean).item()
    assert perfect > 60 and math.isfinite(perfect)


def test_si_snr_is_finite_on_silence():
    loss = SiSnrLoss()
    estimate = torch.randn(2, 1, 800, requires_grad=True)
    silence = torch.zeros(2, 1, 800)
    value = loss({"estimate": estimate}, {"clean": silence})
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(estimate.grad).all()
    assert loss({"estimate": torch.zeros(1, 1, 800)}, {"clean": torch.zeros(1, 1, 800)}).item() == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        loss({"estimate": estimate}, {"clean": torch.zeros(2, 1, 799)})


def test_yaml_configs_instantiate(project_root):
    net = hydra.utils.instantiate(net_config("unet"))
    assert isinstance(net, MaskUNet) and net.causal and net.stft.n_fft == 512 and net.stft.hop_samples == 128
    loss = hydra.utils.instantiate(OmegaConf.load(project_root / "conf/loss/unet.yaml"))
    assert isinstance(loss.terms["sisnr"], SiSnrLoss)
