"""DSP denoiser with a neural controller: the processor's blocks, overrides, causality, configs."""

from __future__ import annotations

import math

import hydra
import pytest
import soundfile
import torch
from omegaconf import OmegaConf

from voipdns.config import net_config
from voipdns.dsp.erb_bands import bands_to_bins, erb_centre_bins, erb_filterbank
from voipdns.dsp.noise_floor import minimum_statistics_floor_db
from voipdns.dsp.one_pole import attack_release_smooth, time_constant_coefficient
from voipdns.dsp.spectral_gate import gate_gain_db
from voipdns.losses.sisnr import si_snr_db
from voipdns.models.dsp_denoiser import KNOBS, DspDenoiser


def small(**kwargs) -> DspDenoiser:
    return DspDenoiser(hidden=8, **kwargs)


def energy_db(x: torch.Tensor) -> float:
    return 10 * math.log10(x.square().mean().item())


@pytest.mark.parametrize("sample_rate, length", [(16000, 4001), (48000, 12003), (16000, 99)])
def test_forward_backward_shapes_and_knob_ranges(sample_rate, length):
    net = small(sample_rate=sample_rate)
    noisy = torch.randn(2, 1, length) * 0.1
    outputs = net.training_outputs({"noisy": noisy})
    assert outputs["estimate"].shape == (2, 1, length)
    frames = net.stft.num_frames(net.valid_length(length))
    knobs = outputs["knobs"]
    assert knobs["threshold_db"].shape == (2, 32, frames) and knobs["reduction_db"].shape == (2, 1, frames)
    assert outputs["band_gains_db"].shape == (2, 32, frames)
    for name, (low, high) in zip(KNOBS, [(0, 24), (0, 40), (1, 50), (10, 500)], strict=True):
        assert bool(((knobs[name] >= low) & (knobs[name] <= high)).all()), name
    outputs["estimate"].abs().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_zero_reduction_is_a_bypass():
    noisy = torch.randn(1, 1, 8001) * 0.3
    net = small()
    with torch.no_grad():
        assert torch.allclose(net(noisy, overrides={"reduction_db": 0}), noisy, atol=1e-5)
        net.overrides = {"reduction_db": 0.0}
        assert torch.allclose(net(noisy), noisy, atol=1e-5)
        assert not torch.allclose(net(noisy, overrides={"reduction_db": 30.0}), noisy, atol=1e-3)


def test_reduction_depth_attenuates_stationary_noise_and_keeps_a_tone():
    torch.manual_seed(3)
    sample_rate, seconds = 16000, 2.0
    t = torch.arange(int(sample_rate * seconds)) / sample_rate
    noise = 0.01 * torch.randn(1, 1, t.numel())
    tone = 0.3 * torch.sin(2 * math.pi * 1000 * t) * (t > 1.0)  # 1 kHz tone in the second half
    noisy = noise + tone
    net = small()
    knobs = {"threshold_db": 12.0, "attack_ms": 5.0, "release_ms": 50.0}
    with torch.no_grad():
        mild = net(noisy, overrides={**knobs, "reduction_db": 6.0})
        deep = net(noisy, overrides={**knobs, "reduction_db": 20.0})
    first, second = slice(4000, 16000), slice(20000, 32000)  # noise only / noise + tone (after floor warm-up)
    noise_drop_mild = energy_db(noisy[..., first]) - energy_db(mild[..., first])
    noise_drop_deep = energy_db(noisy[..., first]) - energy_db(deep[..., first])
    # Noise sits a few dB above its minimum-statistics floor, i.e. below floor + 12 dB: the gate closes to
    # ~90 % of the depth (soft 3 dB knee); never more than the depth.
    assert 4.5 < noise_drop_mild < 6.0 and 14.0 < noise_drop_deep < 20.0
    assert abs(energy_db(deep[..., second]) - energy_db(noisy[..., second])) < 0.5  # the tone band stays open

    def band_energy_db(x: torch.Tensor) -> float:  # 3-7 kHz, second half: noise only, far from the tone
        spec = torch.stft(x[0, :, second], 512, 128, window=torch.hann_window(512), return_complex=True)
        return 10 * math.log10(spec[:, 96:224].abs().square().mean().item())

    assert band_energy_db(noisy) - band_energy_db(deep) > 14.0


def test_override_validation_names_the_knob():
    net = small()
    with pytest.raises(ValueError, match=r"unknown knobs \['depth_db'\]"):
        net(torch.randn(1, 1, 1000), overrides={"depth_db": 3})
    with pytest.raises(ValueError, match="threshold_db needs 1 or 32 values, got 3"):
        net(torch.randn(1, 1, 1000), overrides={"threshold_db": [1, 2, 3]})
    with pytest.raises(ValueError, match="reduction_db must be >= 0 dB"):
        small(overrides={"reduction_db": -3})
    per_band = net(torch.randn(1, 1, 1000), overrides={"threshold_db": list(range(32))})
    assert per_band.shape == (1, 1, 1000)


def test_filterbank_follows_the_sample_rate_and_is_a_partition_of_unity():
    for sample_rate, n_fft in [(16000, 512), (48000, 1536)]:
        weights = erb_filterbank(sample_rate, n_fft, 32)
        assert weights.shape == (32, n_fft // 2 + 1)
        assert torch.allclose(weights.sum(dim=0), torch.ones(n_fft // 2 + 1))
        ones = bands_to_bins(torch.ones(1, 32, 4), weights)
        assert torch.allclose(ones, torch.ones_like(ones))
    low, high = erb_centre_bins(16000, 512, 32), erb_centre_bins(48000, 1536, 32)
    assert low[-1] == 256 and high[-1] == 768  # last band at Nyquist: 8 kHz vs 24 kHz
    assert all(b > a for a, b in zip(low, low[1:], strict=False))
    with pytest.raises(ValueError, match="do not fit"):
        erb_centre_bins(16000, 64, 40)


def test_one_pole_time_constants():
    hop_ms = 8.0
    step = torch.cat([torch.full((1, 1, 1), -20.0), torch.zeros(1, 1, 5)], dim=-1)
    tau = torch.tensor([[[hop_ms]]])  # 63 % of a step per frame when tau equals the hop
    fast = attack_release_smooth(
        step, time_constant_coefficient(tau, hop_ms), time_constant_coefficient(tau * 50, hop_ms)
    )
    assert fast[0, 0, 1].item() == pytest.approx(-20 * math.exp(-1), rel=1e-5)
    falling = attack_release_smooth(-step - 20, torch.zeros(1, 1, 1), time_constant_coefficient(tau, hop_ms))
    assert falling[0, 0, 1].item() == pytest.approx(-20 * (1 - math.exp(-1)), rel=1e-5)  # release path


def test_minimum_statistics_is_causal_and_tracks_the_floor():
    level = torch.full((1, 1, 300), -60.0)
    level[..., 100:140] = -20.0  # a burst of speech
    floor = minimum_statistics_floor_db(level, smooth_frames=5, window_frames=125)
    assert torch.allclose(floor, torch.full_like(floor, -60.0))
    changed = level.clone()
    changed[..., 200:] = -90.0
    assert torch.equal(minimum_statistics_floor_db(changed, 5, 125)[..., :200], floor[..., :200])
    assert gate_gain_db(torch.tensor(-60.0), torch.tensor(-60.0), torch.tensor(0.0), torch.tensor(12.0)).item() == -6.0


def test_causal_pooling_bounds_latency_and_clip_pooling_does_not():
    noisy = torch.randn(1, 1, 8000) * 0.1
    changed = noisy.clone()
    changed[..., 6000:] *= 4
    for pooling, causal in [("causal", True), ("clip", False)]:
        net = small(pooling=pooling).eval()
        with torch.no_grad():
            before, after = net(noisy), net(changed)
        cut = 6000 - net.latency_samples
        assert net.causal == causal
        assert torch.allclose(before[..., :cut], after[..., :cut], atol=1e-6) == causal


def test_yaml_configs_instantiate(project_root):
    net = hydra.utils.instantiate(net_config("dsp_denoiser"))
    assert isinstance(net, DspDenoiser) and net.band_weights.shape == (32, 257)
    at_48k = hydra.utils.instantiate(net_config("dsp_denoiser"), sample_rate=48000)
    assert at_48k.band_weights.shape == (32, 769)
    with_override = hydra.utils.instantiate(net_config("dsp_denoiser"), overrides={"threshold_db": [3.0] * 32})
    assert with_override(torch.randn(1, 1, 800)).shape == (1, 1, 800)
    loss = hydra.utils.instantiate(OmegaConf.load(project_root / "conf/loss/dsp_denoiser.yaml"))
    assert sorted(loss.terms) == ["l1", "stft"]
    clean = torch.randn(1, 1, 4000)
    assert loss({"estimate": clean}, {"clean": clean})["loss"].item() == pytest.approx(0.0, abs=1e-5)


@pytest.mark.shared_data
def test_hand_set_knobs_improve_real_speech_in_air_conditioner_noise(shared_data):
    speech, _ = soundfile.read(shared_data / "speech/librispeech-train-clean-100/103-1240-0000.flac", dtype="float32")
    noise, _ = soundfile.read(shared_data / "noise/household/aircon_0_0.flac", dtype="float32")
    length = min(len(speech), len(noise), 5 * 16000)
    clean = torch.from_numpy(speech[:length]).reshape(1, 1, -1)
    noise = torch.from_numpy(noise[:length]).reshape(1, 1, -1)
    noise = noise * clean.norm() / noise.norm() / 10 ** (5 / 20)  # 5 dB SNR
    noisy = clean + noise
    knobs = {"threshold_db": 8.0, "attack_ms": 5.0, "release_ms": 80.0}
    with torch.no_grad():
        gains = [si_snr_db(DspDenoiser()(noisy, {**knobs, "reduction_db": depth}), clean).item() for depth in (6, 20)]
    before = si_snr_db(noisy, clean).item()
    # measured: 5.0 dB -> 6.6 dB (6 dB depth) -> 8.2 dB (20 dB depth)
    assert before + 1.0 < gains[0] < gains[1] and gains[1] > before + 2.5
