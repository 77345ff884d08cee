"""FullSubNet: official layout and size, cIRM helpers and loss, causality, official checkpoint loading."""

from __future__ import annotations

import hydra
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from voipdns.checkpoint_formats.errors import CheckpointFormatError, CheckpointKeyError
from voipdns.checkpoint_formats.fullsubnet import convert_fullsubnet, infer_fullsubnet_config, is_fullsubnet
from voipdns.checkpoint_formats.unpickle import load_restricted
from voipdns.config import net_config
from voipdns.dsp.complex_mask import apply_complex_mask, compress_cirm, decompress_cirm, ideal_cirm
from voipdns.dsp.drop_band import drop_band
from voipdns.dsp.laplace_norm import cumulative_laplace_norm, offline_laplace_norm
from voipdns.losses.cirm import CompressedCirmMSELoss
from voipdns.models.fullsubnet import FullSubNet, unfold_neighbours
from voipdns.pretrained import build_net, load_state_strict

#: Key -> shape of the released checkpoint (reference.md).
OFFICIAL_SHAPES = {
    **{f"fb_model.sequence_model.{w}_l{i}": s for i in (0, 1) for w, s in (
        ("weight_ih", [2048, 257 if i == 0 else 512]), ("weight_hh", [2048, 512]),
        ("bias_ih", [2048]), ("bias_hh", [2048]))},
    "fb_model.fc_output_layer.weight": [257, 512],
    "fb_model.fc_output_layer.bias": [257],
    **{f"sb_model.sequence_model.{w}_l{i}": s for i in (0, 1) for w, s in (
        ("weight_ih", [1536, 32 if i == 0 else 384]), ("weight_hh", [1536, 384]),
        ("bias_ih", [1536]), ("bias_hh", [1536]))},
    "sb_model.fc_output_layer.weight": [2, 384],
    "sb_model.fc_output_layer.bias": [2],
}  # fmt: skip
TINY = dict(n_fft=64, hop_samples=32, win_samples=64, fb_hidden_size=16, sb_hidden_size=8, sb_num_neighbors=15)


def tiny(**overrides) -> FullSubNet:
    return FullSubNet(**{**TINY, **overrides})


def test_official_layout_and_parameter_count():
    net = FullSubNet()
    assert sum(p.numel() for p in net.parameters()) == 5_637_635
    assert {key: list(value.shape) for key, value in net.state_dict().items()} == OFFICIAL_SHAPES
    assert net.latency_samples == 512 + 2 * 256 and net.sample_rate == 16000 and not net.causal


@pytest.mark.parametrize("length", [1001, 777, 20])  # odd lengths, and one shorter than half a window
def test_output_length_matches_input(length):
    net = tiny().eval()
    assert net(torch.randn(2, 1, length)).shape == (2, 1, length)


def test_training_with_drop_band_and_cirm_loss_backward():
    net, loss = tiny().train(), CompressedCirmMSELoss(n_fft=64, hop_samples=32, win_samples=64)
    clean = torch.randn(3, 1, 641) * 0.1
    batch = {"noisy": clean + 0.05 * torch.randn_like(clean), "clean": clean}
    outputs = net.training_outputs(batch)
    # 33 bins -> 32 usable -> 16 per drop-band group; 641 samples -> 21 frames; no waveform while dropping
    assert outputs["cirm"].shape == (3, 2, 16, 21) and outputs["cirm_drop_band_groups"] == 2
    assert "estimate" not in outputs
    value = loss(outputs, batch)
    value.backward()
    grads = [p.grad for p in net.parameters()]
    assert torch.isfinite(value) and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_eval_outputs_full_band_with_estimate():
    net = tiny(use_drop_band=True).eval()
    outputs = net.training_outputs({"noisy": torch.randn(3, 1, 641)})
    assert outputs["cirm"].shape == (3, 2, 33, 21) and outputs["estimate"].shape == (3, 1, 641)
    small_batch = net.train().training_outputs({"noisy": torch.randn(2, 1, 641)})
    assert small_batch["cirm"].shape[2] == 33  # a batch of 2 is not larger than 2 groups: full band
    assert tiny(use_drop_band=False).train().training_outputs({"noisy": torch.randn(3, 1, 641)})["cirm"].shape[2] == 33


def test_cirm_roundtrip_reconstructs_clean():
    stft = tiny().stft
    noisy = torch.randn(1, 1, 2000)
    clean = 0.5 * noisy + 0.1 * torch.roll(noisy, 7, dims=-1)
    spec_noisy, spec_clean = stft.analysis(noisy), stft.analysis(clean)
    mask = ideal_cirm(spec_noisy, spec_clean)
    roundtrip = decompress_cirm(compress_cirm(mask), limit=9.99999)
    inside = mask.abs().amax(dim=1) < 5  # where compression is well conditioned
    assert torch.allclose(roundtrip[:, :, inside[0]], mask[:, :, inside[0]], atol=1e-3)
    # K (1 - e^{-Cm}) / (1 + e^{-Cm}) = K tanh(Cm / 2); masks below -100 are clamped there first
    expected = [0.0, 10 * np.tanh(0.05), 10.0, -10 * np.tanh(5.0)]
    assert compress_cirm(torch.tensor([0.0, 1.0, 1e6, -1e6])).tolist() == pytest.approx(expected, abs=1e-6)
    estimate = stft.synthesis(apply_complex_mask(spec_noisy, mask), 2000)
    assert torch.allclose(estimate, clean, atol=1e-4)


def test_cirm_loss_is_zero_for_the_ideal_mask_and_checks_shapes():
    loss = CompressedCirmMSELoss(n_fft=64, hop_samples=32, win_samples=64)
    clean = torch.randn(4, 1, 500)
    batch = {"noisy": clean + torch.randn_like(clean), "clean": clean}
    target = loss.target(batch["noisy"], batch["clean"], drop_band_groups=2)
    assert loss({"cirm": target, "cirm_drop_band_groups": 2}, batch).item() == 0.0
    assert loss({"cirm": target + 0.5, "cirm_drop_band_groups": 2}, batch).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="must match the net's"):
        loss({"cirm": target}, batch)  # full-band target vs drop-band prediction


def test_unfold_neighbours_reflects_at_the_edges():
    ramp = torch.arange(40.0).reshape(1, 1, 40, 1).expand(1, 1, 40, 3)
    units = unfold_neighbours(ramp, 15)
    assert units.shape == (1, 40, 31, 3)
    assert units[0, 0, :, 0].tolist() == [*range(15, 0, -1), *range(0, 16)]
    assert units[0, 20, :, 0].tolist() == list(range(5, 36))


def test_drop_band_layout():
    x = torch.arange(3 * 5, dtype=torch.float32).reshape(3, 1, 5, 1)  # item b, freq f -> 5 b + f
    out = drop_band(x, 2)  # items 0, 2 keep freqs 0, 2; item 1 keeps freqs 1, 3; freq 4 dropped
    assert out[:, 0, :, 0].tolist() == [[0, 2], [10, 12], [6, 8]]
    with pytest.raises(ValueError, match="batch larger"):
        drop_band(x[:2], 2)


def test_cumulative_norm_is_causal_and_offline_is_not():
    x = torch.rand(2, 3, 8, 20) + 0.1
    changed = x.clone()
    changed[..., 12:] *= 5
    assert torch.equal(cumulative_laplace_norm(x)[..., :12], cumulative_laplace_norm(changed)[..., :12])
    assert not torch.allclose(offline_laplace_norm(x)[..., :12], offline_laplace_norm(changed)[..., :12])
    ones = cumulative_laplace_norm(torch.full((1, 1, 4, 5), 3.0))
    assert torch.allclose(ones, torch.ones_like(ones))


@pytest.mark.parametrize("norm", ["cumulative_laplace", "offline_laplace"])
def test_net_causality_follows_the_normalisation(norm):
    net = tiny(fb_norm=norm, sb_norm=norm).eval()
    noisy = torch.randn(1, 1, 1600)
    changed = noisy.clone()
    changed[..., 1200:] += torch.randn(400)
    with torch.no_grad():
        before, after = net(noisy), net(changed)
    # latency = window + 2 look-ahead frames = 64 + 64 samples: output before 1200 - 128 sees only the past
    past = slice(0, 1200 - net.latency_samples)
    assert net.causal == (norm == "cumulative_laplace")
    assert torch.allclose(before[..., past], after[..., past], atol=1e-6) == net.causal


def _official_file(tmp_path, net: FullSubNet, prefix: str = "module.") -> str:
    """A checkpoint laid out as the official trainer writes it (DDP prefix, numpy best_score)."""
    path = tmp_path / "best_model.tar"
    torch.save(
        {
            "epoch": 58,
            "best_score": np.float64(0.8123),
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": list(range(20))}]},
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0},
            "model": {prefix + key: value for key, value in net.state_dict().items()},
        },
        path,
    )
    return str(path)


def test_loads_official_checkpoint_with_ddp_prefix(tmp_path):
    source = tiny().eval()
    path = _official_file(tmp_path, source)
    obj = load_restricted(path)
    assert is_fullsubnet(obj)
    loaded = convert_fullsubnet(obj, path)
    assert loaded.format == "fullsubnet" and not any(key.startswith("module.") for key in loaded.state_dict)
    net = build_net(loaded.net_config, path)  # config inferred from the weight shapes
    load_state_strict(net, loaded.state_dict, path)
    noisy = torch.randn(1, 1, 900)
    with torch.no_grad():
        assert torch.equal(net.eval()(noisy), source(noisy))


def test_plain_state_dict_and_inferred_config_of_the_release():
    state = FullSubNet().state_dict()
    assert is_fullsubnet(state) and convert_fullsubnet(state, "plain").state_dict.keys() == state.keys()
    config = infer_fullsubnet_config(state)
    assert config == {
        "_target_": "voipdns.models.fullsubnet.FullSubNet",
        "n_fft": 512, "hop_samples": 256, "win_samples": 512,
        "fb_num_neighbors": 0, "sb_num_neighbors": 15, "fb_hidden_size": 512, "sb_hidden_size": 384,
        "num_layers": 2, "fb_norm": "offline_laplace", "sb_norm": "offline_laplace",
    }  # fmt: skip
    assert not is_fullsubnet({"encoder.0.0.weight": torch.zeros(1)})


def test_wrong_checkpoint_fails_listing_the_keys(tmp_path):
    state = tiny().state_dict()
    state["fb_model.fc_output_layer.b"] = state.pop("fb_model.fc_output_layer.bias")
    with pytest.raises(CheckpointKeyError, match=r"bad.tar.*missing \(1\): fb_model\.fc_output_layer\.bias.*"
                       r"unexpected \(1\): fb_model\.fc_output_layer\.b"):  # fmt: skip
        convert_fullsubnet({"epoch": 1, "model": state}, "bad.tar")  # checked before config inference
    with pytest.raises(CheckpointKeyError, match=r"reshaped"):
        load_state_strict(tiny(fb_hidden_size=8), tiny().state_dict(), "other.tar")
    with pytest.raises(CheckpointFormatError, match="not a FullSubNet checkpoint"):
        convert_fullsubnet({"epoch": 1, "weights": [1, 2]}, "junk.tar")


def test_yaml_configs_instantiate(project_root):
    net = hydra.utils.instantiate(net_config("fullsubnet"))
    assert isinstance(net, FullSubNet) and sum(p.numel() for p in net.parameters()) == 5_637_635
    loss = hydra.utils.instantiate(OmegaConf.load(project_root / "conf/loss/fullsubnet.yaml"))
    assert isinstance(loss.terms["cirm"], CompressedCirmMSELoss) and loss.terms["cirm"].stft.n_fft == net.stft.n_fft


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="fb_norm: unknown normalisation 'layer'"):
        FullSubNet(fb_norm="layer")
    with pytest.raises(ValueError, match=r"expects noisy \[B, 1, T\]"):
        tiny()(torch.randn(2, 100))
