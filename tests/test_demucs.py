"""Demucs: official key layout, shapes, init rescale, resampling, and parity with `denoiser`."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate

from voipdns.config import net_config
from voipdns.dsp.sinc_resample import downsample2, upsample2
from voipdns.models.demucs import Demucs

SMALL = dict(hidden=8, depth=3)  # the same code paths as dns48 at a fraction of the cost


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_dns48_parameter_count_and_key_layout():
    net = Demucs()  # defaults are dns48
    assert n_params(net) == 18_867_937
    state = net.state_dict()
    assert len(state) == 48
    assert state["encoder.0.0.weight"].shape == (48, 1, 8)
    assert state["encoder.0.2.weight"].shape == (96, 48, 1)
    assert state["decoder.4.2.weight"].shape == (48, 1, 8)  # ConvTranspose1d weight is [in, out, kernel]
    assert state["decoder.0.0.weight"].shape == (1536, 768, 1)  # decoder[0] is the deepest layer
    assert state["lstm.lstm.weight_ih_l0"].shape == (3072, 768)
    expected = {f"{side}.{i}.{j}.{p}" for side in ("encoder", "decoder") for i in range(5) for j in (0, 2)
                for p in ("weight", "bias")}  # fmt: skip
    expected |= {f"lstm.lstm.{w}_l{k}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for k in (0, 1)}
    assert set(state) == expected


def test_dns64_parameter_count():
    assert n_params(Demucs(hidden=64)) == 33_533_569


def test_noncausal_adds_bidirectional_lstm_and_linear():
    state = Demucs(causal=False, **SMALL).state_dict()
    assert state["lstm.linear.weight"].shape == (32, 64)  # bottleneck dim 8 * 2**2
    assert "lstm.lstm.weight_ih_l0_reverse" in state


def test_valid_length_stride_and_latency():
    net = Demucs()
    assert net.valid_length(64_000) == 64_085
    assert net.total_stride == 256
    assert net.valid_length(1) == 597
    assert net.latency_samples == 661  # 597 + 64 samples of resampler look-ahead
    assert Demucs(causal=False, **SMALL).latency_samples == 0  # offline: not streamable


@pytest.mark.parametrize("samples", [1, 777, 4000])
@pytest.mark.parametrize("causal", [True, False])
def test_forward_keeps_shape_and_backward_reaches_every_parameter(samples, causal):
    net = Demucs(causal=causal, **SMALL)
    noisy = torch.randn(2, 1, samples)
    estimate = net(noisy)
    assert estimate.shape == noisy.shape
    estimate.square().mean().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_rejects_inputs_without_channel_axis():
    with pytest.raises(ValueError, match=r"\[batch, 1, samples\], got \[2, 1000\]"):
        Demucs(**SMALL)(torch.randn(2, 1000))


def test_rejects_unsupported_resample():
    with pytest.raises(ValueError, match="resample must be 1, 2 or 4, got 3"):
        Demucs(resample=3)


def test_output_scales_with_input():
    """Normalisation by the input std makes the net (almost: floor) scale-equivariant."""
    net = Demucs(**SMALL).eval()
    noisy = torch.randn(1, 1, 2000)
    with torch.no_grad():
        assert torch.allclose(net(10 * noisy), 10 * net(noisy), rtol=1e-3, atol=1e-4)


def test_init_rescale_divides_conv_weights_by_sqrt_std_ratio():
    torch.manual_seed(1)
    raw = Demucs(rescale=0, **SMALL).state_dict()
    torch.manual_seed(1)
    rescaled = Demucs(rescale=0.1, **SMALL).state_dict()
    for key in ("encoder.0.0", "decoder.2.2", "decoder.0.0"):
        scale = math.sqrt(raw[f"{key}.weight"].std().item() / 0.1)
        assert torch.allclose(rescaled[f"{key}.weight"], raw[f"{key}.weight"] / scale)
        assert torch.allclose(rescaled[f"{key}.bias"], raw[f"{key}.bias"] / scale)
    assert torch.equal(rescaled["lstm.lstm.weight_ih_l0"], raw["lstm.lstm.weight_ih_l0"])  # LSTM untouched


def test_upsample_keeps_samples_and_downsample_inverts_it():
    samples = torch.arange(400, dtype=torch.float32)
    wav = torch.sin(2 * math.pi * 0.05 * samples).view(1, 1, -1)  # far below Nyquist
    up = upsample2(wav)
    assert up.shape == (1, 1, 800)
    assert torch.equal(up[..., ::2], wav)
    middle = slice(100, 300)  # away from the zero-padded edges
    expected_odd = torch.sin(2 * math.pi * 0.05 * (samples + 0.5)).view(1, 1, -1)
    assert torch.allclose(up[..., 1::2][..., middle], expected_odd[..., middle], atol=1e-3)
    assert torch.allclose(downsample2(up)[..., middle], wav[..., middle], atol=1e-3)
    assert downsample2(torch.randn(3, 2, 11)).shape == (3, 2, 6)  # odd lengths round up


def test_hydra_configs_build_the_official_layouts(project_root):
    dns48 = instantiate(net_config("demucs"))
    assert isinstance(dns48, Demucs) and dns48.hidden == 48 and dns48.causal
    assert n_params(dns48) == 18_867_937
    dns64 = net_config("demucs_dns64")
    assert dns64.hidden == 64 and dns64.causal
    noncausal = net_config("demucs_noncausal")
    assert noncausal.causal is False and noncausal.hidden == 48


# --- parity with the reference package (installed for development; skipped on users' machines) ---


@pytest.fixture(scope="module")
def reference_demucs():
    module = pytest.importorskip("denoiser.demucs", reason="reference package `denoiser` not installed")
    return module.Demucs


@pytest.mark.parametrize("causal", [True, False])
def test_same_seed_gives_same_initial_weights_as_reference(reference_demucs, causal):
    torch.manual_seed(3)
    reference = reference_demucs(causal=causal, **SMALL).state_dict()
    torch.manual_seed(3)
    ours = Demucs(causal=causal, **SMALL).state_dict()
    assert list(ours) == list(reference)
    for key in reference:
        assert torch.equal(ours[key], reference[key]), key


@pytest.mark.parametrize(
    "causal, hidden, lengths",
    [(True, 48, [16_000]), (True, 16, [2, 1000, 4097]), (False, 16, [999, 4000])],
)
def test_output_matches_reference(reference_demucs, causal, hidden, lengths):
    reference = reference_demucs(causal=causal, hidden=hidden).eval()
    ours = Demucs(causal=causal, hidden=hidden).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    for samples in lengths:
        noisy = 0.1 * torch.randn(2, 1, samples)
        with torch.no_grad():
            expected, got = reference(noisy), ours(noisy)
        assert got.shape == expected.shape == noisy.shape
        assert (got - expected).abs().max().item() < 1e-5, samples
    assert ours.valid_length(12_345) == reference.valid_length(12_345)


def test_resampling_matches_reference():
    reference = pytest.importorskip("denoiser.resample", reason="reference package `denoiser` not installed")
    wav = torch.randn(2, 3, 1001)
    assert torch.allclose(upsample2(wav), reference.upsample2(wav), atol=1e-5)
    assert torch.allclose(downsample2(wav), reference.downsample2(wav), atol=1e-5)
