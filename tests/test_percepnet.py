"""PercepNet / PPN / UPN: DSP (bands, pitch, comb filter, targets), nets, losses, q flags, configs."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from voipdns.config import net_config
from voipdns.dsp.percepnet_bands import band_centre_bins, percepnet_filterbank
from voipdns.dsp.percepnet_features import PercepNetDsp, period_to_hz
from voipdns.dsp.percepnet_targets import ideal_gains, ideal_strengths
from voipdns.losses.percepnet import PercepNetGainLoss, PitchStrengthLoss, VadBceLoss, gain_loss_frames
from voipdns.models.percepnet import PercepNet, PersonalizedPercepNet, UnifiedPercepNet
from voipdns.speaker.q_flags import draw_q, run_lengths

SR = 16000
SMALL = dict(fc_size=16, conv_channels=16, gru_sizes=[16, 16], strength_gru_size=8)


def harmonic(f0_hz: float, seconds: float = 0.5, sample_rate: int = SR, amplitude: float = 0.2) -> torch.Tensor:
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    harmonics = range(1, int(0.45 * sample_rate / f0_hz))
    wave = sum((1.0 / h) * torch.sin(2 * math.pi * f0_hz * h * t + h) for h in harmonics)
    return amplitude * wave / wave.abs().max()


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(10 * torch.log10(reference.square().sum() / (reference - estimate).square().sum()))


@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_erb_layout_has_34_bands_from_dc_to_nyquist_and_sums_to_one(sample_rate):
    n_fft = sample_rate // 50
    bins = band_centre_bins(sample_rate, n_fft)
    weights = percepnet_filterbank(sample_rate, n_fft)
    assert len(bins) == 34 and bins[0] == 0 and bins[-1] == n_fft // 2
    assert all(b > a for a, b in zip(bins, bins[1:], strict=False))
    widths = [b - a for a, b in zip(bins, bins[1:], strict=False)]
    assert widths[-1] > 5 * widths[0]  # ERB: high bands much wider than low ones
    assert torch.allclose(weights.sum(0), torch.ones(n_fft // 2 + 1))


def test_erb_layout_rejects_bands_that_do_not_fit():
    with pytest.raises(ValueError, match="do not fit below Nyquist"):
        band_centre_bins(8000, 160, n_bands=80, min_band_hz=100.0)


def test_unity_gains_reconstruct_the_input_exactly():
    dsp = PercepNetDsp(SR)
    wave = 0.1 * torch.randn(2, 4000 + 37)
    frames = dsp.analyze(wave)
    n = frames.energy.shape[1]
    assert n == dsp.num_frames(wave.shape[-1]) == math.ceil(wave.shape[-1] / 160) + 1
    ones, zeros = torch.ones(2, n, 34), torch.zeros(2, n, 34)
    for postfilter in (False, True):  # the post-filter is transparent for unity gains
        out = dsp.synthesize(dsp.apply(frames, ones, zeros, postfilter), wave.shape[-1])
        assert torch.allclose(out, wave, atol=1e-5)


@pytest.mark.parametrize("f0_hz", [95.0, 180.0, 310.0])
def test_pitch_estimate_within_two_percent_on_harmonic_signal(f0_hz):
    dsp = PercepNetDsp(SR)
    frames = dsp.analyze(harmonic(f0_hz)[None])
    estimate_hz = period_to_hz(frames.period_samples, SR)[0, 3:-2]  # skip frames still filling with signal
    assert float((estimate_hz / f0_hz - 1).abs().max()) < 0.02
    assert float(frames.pitch_correlation[0, 3:-2].min()) > 0.9
    assert float(frames.coherence[0, 3:-2, :20].mean()) > 0.9  # harmonics survive the comb filter


def test_pitch_estimate_works_at_48k():
    dsp = PercepNetDsp(48000)
    frames = dsp.analyze(harmonic(220.0, 0.2, 48000)[None])
    assert float((period_to_hz(frames.period_samples, 48000)[0, 3:-2] / 220.0 - 1).abs().max()) < 0.02


def test_noise_and_dc_are_not_voiced():
    dsp = PercepNetDsp(SR)
    white = 0.1 * torch.randn(1, 8000)
    for wave in (white, white + 0.3, torch.full((1, 8000), 0.3)):  # DC correlates at every lag
        assert float(dsp.analyze(wave).pitch_correlation.median()) < 0.5


@pytest.mark.shared_data
def test_pitch_on_real_speech_stays_in_the_speech_range(shared_data):
    import soundfile as sf

    files = sorted((shared_data / "speech" / "librispeech-train-clean-100").glob("*.flac"))[:8]
    voiced_hz = []
    for path in files:
        wave = torch.from_numpy(sf.read(path, dtype="float32", frames=4 * SR)[0])[None]
        frames = PercepNetDsp(SR).analyze(wave)
        period, correlation = frames.period_samples[0], frames.pitch_correlation[0]
        voiced_hz.append(period_to_hz(period[correlation > 0.8], SR))
    voiced_hz = torch.cat(voiced_hz)
    # Low-pass frames without a prominence check read as 500-800 Hz "pitch" (6 % of voiced frames).
    assert voiced_hz.numel() > 500 and float((voiced_hz > 450).float().mean()) < 0.02
    assert 90.0 < float(voiced_hz.median()) < 260.0


def test_noise_has_low_pitch_coherence():
    frames = PercepNetDsp(SR).analyze(0.1 * torch.randn(1, 8000))
    # Bands of 1-2 bins are trivially coherent (one complex value); wide bands average the noise out.
    assert float(frames.coherence[..., 12:].abs().mean()) < 0.3


def test_ideal_targets_in_range_and_transparent_for_clean_input():
    dsp = PercepNetDsp(SR)
    clean = harmonic(150.0)[None]
    noisy = clean + 0.05 * torch.randn_like(clean)
    gains, strengths = dsp.targets(clean, dsp.analyze(noisy))
    assert 0.0 <= float(gains.min()) and float(gains.max()) <= 1.0
    assert 0.0 <= float(strengths.min()) and float(strengths.max()) <= 1.0
    same_gains, same_strengths = dsp.targets(clean, dsp.analyze(clean))
    active = dsp.analyze(clean).energy > 1e-3
    assert torch.allclose(same_gains[active], torch.ones_like(same_gains[active]), atol=1e-3)
    assert float(same_strengths.max()) < 1e-3  # nothing to gain from filtering the clean signal itself


def test_target_formulas_on_known_values():
    assert torch.allclose(
        ideal_gains(torch.tensor([4.0, 0.0, 9.0]), torch.tensor([16.0, 0.0, 4.0])),
        torch.tensor([2.0 / (4.0 + 1e-4), 0.0, 1.0]),
    )
    # q_y = 0.6, q_x = 0.8: r = 1 - sqrt(0.36 * 0.36 / (0.64 * 0.64)) = 1 - 0.5625
    r = ideal_strengths(torch.tensor([0.8, 0.3, 0.0]), torch.tensor([0.6, 0.6, 0.0]))
    assert torch.allclose(r, torch.tensor([0.4375, 0.0, 0.0]), atol=1e-5)


def test_oracle_targets_improve_snr_and_comb_filter_helps_on_harmonics():
    net = PercepNet(**SMALL)
    clean = harmonic(150.0, 1.0)[None, None]
    noisy = clean + 0.05 * torch.randn_like(clean)
    oracle = net.oracle(noisy, clean)
    frames = net.dsp.analyze(noisy[:, 0])
    gains, strengths = net.dsp.targets(clean[:, 0], frames)
    gains_only = net.dsp.synthesize(net.dsp.apply(frames, gains, 0 * strengths, False), clean.shape[-1])
    assert snr_db(clean, oracle) > snr_db(clean, noisy) + 5.0
    assert snr_db(clean, oracle) > snr_db(clean[:, 0], gains_only) + 1.0


def test_percepnet_forward_backward_and_training_outputs():
    net = PercepNet(**SMALL)
    noisy, clean = 0.1 * torch.randn(2, 1, 3210), 0.1 * torch.randn(2, 1, 3210)
    assert net(noisy).shape == noisy.shape
    out = net.training_outputs({"noisy": noisy, "clean": clean})
    frames = net.num_frames(3210)
    for key in ("gains", "strengths", "gains_target", "strengths_target"):
        assert out[key].shape == (2, frames, 34)
    assert "vad_logits" not in out
    loss = PercepNetGainLoss()(out, {}) + PitchStrengthLoss()(out, {}) + out["estimate"].square().mean()
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert net.latency_samples == 320 and list(net.state_dict()) == [n for n, _ in net.named_parameters()]


def test_percepnet_is_causal():
    net = PercepNet(**SMALL).eval()
    noisy = 0.1 * torch.randn(1, 1, 3200)
    changed = noisy.clone()
    changed[..., 8 * 160 :] = 0.1 * torch.randn(1, 1, 3200 - 8 * 160)
    with torch.no_grad():
        a, b = (
            net.training_outputs({"noisy": noisy, "clean": noisy}),
            net.training_outputs({"noisy": changed, "clean": changed}),
        )
    # Frame t spans input [(t-1) hop, (t+1) hop): frames 0..7 end before sample 8 * hop.
    assert torch.allclose(a["gains"][:, :8], b["gains"][:, :8])
    assert not torch.allclose(a["gains"][:, 8:], b["gains"][:, 8:])


def test_percepnet_48k_forward():
    net = PercepNet(sample_rate=48000, **SMALL)
    assert net(0.1 * torch.randn(1, 1, 4800)).shape == (1, 1, 4800)
    assert net.hop_samples == 480


def test_ppn_needs_an_embedding_and_has_a_vad_head():
    net = PersonalizedPercepNet(embedding_dim=8, **SMALL)
    noisy = 0.1 * torch.randn(2, 1, 1600)
    with pytest.raises(ValueError, match="needs a speaker embedding"):
        net(noisy)
    out = net.training_outputs({"noisy": noisy, "clean": noisy, "embedding": torch.randn(2, 8)})
    assert out["vad_logits"].shape == (2, net.num_frames(1600))
    terms = (PercepNetGainLoss(), PitchStrengthLoss(), VadBceLoss())
    loss = sum(t(out, {"vad": torch.ones(2, net.num_frames(1600))}) for t in terms)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
    net.set_speaker_embedding(torch.randn(8))
    assert net(noisy).shape == noisy.shape
    with pytest.raises(ValueError, match="dim 5"):
        net.set_speaker_embedding(torch.randn(5))


def test_upn_conditioning_is_zero_where_q_is_zero():
    net = UnifiedPercepNet(embedding_dim=4, **SMALL).eval()
    z = torch.randn(2, 4)
    q = torch.zeros(2, 6)
    q[0, 3:] = 1.0
    cond = net.conditioning(2, 6, z, q)
    assert cond.shape == (2, 6, 5)
    assert torch.equal(cond[0, :3], torch.zeros(3, 5)) and torch.equal(cond[1], torch.zeros(6, 5))
    assert torch.equal(cond[0, 3:], torch.cat([z[0], torch.ones(1)]).expand(3, 5))
    # Without an embedding UPN is a plain denoiser (q = 0 everywhere); q = 1 without one is an error.
    assert torch.equal(net.conditioning(2, 6, None, None), torch.zeros(2, 6, 5))
    with pytest.raises(ValueError, match="no speaker embedding"):
        net.conditioning(2, 6, None, torch.ones(2, 6))
    with pytest.raises(ValueError, match=r"q must be \[batch, frames\]"):
        net.conditioning(2, 6, z, torch.ones(2, 7))


def test_upn_embedding_does_not_reach_frames_before_q_switches_on():
    net = UnifiedPercepNet(embedding_dim=4, **SMALL).eval()
    noisy = 0.1 * torch.randn(1, 1, 3200)
    frames = net.num_frames(3200)
    q = torch.zeros(1, frames)
    q[0, 10:] = 1.0
    with torch.no_grad():
        a = net.training_outputs({"noisy": noisy, "clean": noisy, "embedding": torch.randn(1, 4), "q": q})
        b = net.training_outputs({"noisy": noisy, "clean": noisy, "embedding": torch.randn(1, 4), "q": q})
    assert torch.equal(a["gains"][:, :10], b["gains"][:, :10])
    assert not torch.allclose(a["gains"][:, 10:], b["gains"][:, 10:])


def test_losses_finite_with_finite_gradients_on_silent_input():
    net = PersonalizedPercepNet(embedding_dim=4, **SMALL)
    silent = torch.zeros(2, 1, 1600)
    out = net.training_outputs({"noisy": silent, "clean": silent, "embedding": torch.zeros(2, 4)})
    batch = {"vad": torch.zeros(2, net.num_frames(1600))}
    # Saturated predictions hit the sqrt at 0 (target gain 0, 1 - r = 0): still finite.
    saturated = {**out, "strengths": out["strengths"] * 0 + 1.0}
    terms = [PercepNetGainLoss()(out, batch), PitchStrengthLoss()(saturated, batch), VadBceLoss()(out, batch)]
    assert all(torch.isfinite(t) for t in terms)
    sum(terms).backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
    assert float(out["estimate"].detach().abs().max()) == 0.0


def test_gain_loss_values_and_frame_wise_reduction():
    gains = torch.full((2, 5, 3), 0.25)
    target = torch.full((2, 5, 3), 1.0)
    frames = PercepNetGainLoss(reduction="none")({"gains": gains, "gains_target": target}, {})
    assert frames.shape == (2, 5)
    assert torch.allclose(frames, torch.full((2, 5), 0.5**2 + 10 * 0.5**4))
    assert float(gain_loss_frames(target, target).max()) == 0.0
    with pytest.raises(ValueError, match="reduction"):
        PercepNetGainLoss(reduction="sum")
    with pytest.raises(KeyError, match="gains_target"):
        PercepNetGainLoss()({"gains": gains}, {})


def test_vad_loss_checks_frame_count():
    logits = torch.zeros(1, 10)
    assert torch.isclose(VadBceLoss()({"vad_logits": logits}, {"vad": torch.ones(1, 9)}), torch.tensor(math.log(2)))
    with pytest.raises(ValueError, match="has 4 frames but the net produced 10"):
        VadBceLoss()({"vad_logits": logits}, {"vad": torch.ones(1, 4)})
    with pytest.raises(KeyError, match="batch\\['vad'\\]"):
        VadBceLoss()({"vad_logits": logits}, {})


def test_draw_q_holds_every_run_for_200_frames_and_is_deterministic():
    modes = set()
    for seed in range(60):
        q = draw_q(700, torch.Generator().manual_seed(seed))
        runs = run_lengths(q)
        assert all(r >= 200 for r in runs) and len(runs) <= 3 and set(q.unique().tolist()) <= {0.0, 1.0}
        modes.add(len(runs) if len(runs) > 1 else f"const{int(q[0])}")
        assert torch.equal(q, draw_q(700, torch.Generator().manual_seed(seed)))
    assert modes == {"const0", "const1", 2, 3}
    short = draw_q(300, torch.Generator().manual_seed(0), probabilities=(0.0, 0.0, 1.0))
    assert len(run_lengths(short)) == 1  # too short to switch and still hold 200 frames twice
    with pytest.raises(ValueError, match="probabilities"):
        draw_q(10, probabilities=(1.0, 0.0))


@pytest.mark.parametrize("name", ["percepnet", "ppn", "upn"])
def test_net_yaml_instantiates(project_root, name):
    net = instantiate(net_config(name))
    assert isinstance(net, PercepNet) and net.dsp.n_bands_total == 34 and net.dsp.n_features == 70
    assert [gru.hidden_size for gru in net.grus] == [512, 512, 512] and net.conv1.out_channels == 512
    assert net.conditioning_dim == {"percepnet": 0, "ppn": 192, "upn": 193}[name]
    assert (net.vad_head is None) == (name == "percepnet")


@pytest.mark.parametrize("name", ["percepnet", "ppn"])
def test_loss_yaml_instantiates_and_runs(project_root, name):
    loss = instantiate(OmegaConf.load(project_root / "conf" / "loss" / f"{name}.yaml"))
    net = PersonalizedPercepNet(embedding_dim=4, **SMALL)
    noisy = 0.1 * torch.randn(1, 1, 1600)
    out = net.training_outputs({"noisy": noisy, "clean": noisy, "embedding": torch.randn(1, 4)})
    values = loss(out, {"vad": torch.ones(1, net.num_frames(1600))})
    assert torch.isfinite(values["loss"]) and ("vad" in values) == (name == "ppn")


def test_percepnet_learns_the_ideal_gains_of_a_fixed_pair():
    net = PercepNet(**SMALL)
    clean = harmonic(160.0, 0.5)[None, None]
    batch = {"clean": clean, "noisy": clean + 0.05 * torch.randn_like(clean)}
    loss_fn = PercepNetGainLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = loss_fn(net.training_outputs(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
