"""VoIP channel simulator: codecs round-trip aligned, loss/jitter statistics, concealment, AGC, denoiser,
presets, determinism, augmentation wrapper."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from voipdns.conditions import CONDITIONS, partition_name, select_conditions
from voipdns.config import CONFIG_DIR
from voipdns.data.alignment import estimate_delay
from voipdns.data.noise_synth import generate_noise
from voipdns.data.speech_synth import synthesize_speech
from voipdns.resampler import resample
from voipdns.voip import codecs as codecs_module
from voipdns.voip.agc import AutomaticGainControl
from voipdns.voip.augment import VoIPAugmentedDataset
from voipdns.voip.channel import ChannelSimulator, make_preset, preset_stages
from voipdns.voip.codecs import CodecUnavailableError, available_codecs, make_codec
from voipdns.voip.concealment import RepeatFadeConcealer
from voipdns.voip.jitter import JitterBuffer
from voipdns.voip.link import CodecLink
from voipdns.voip.packet_loss import GilbertElliott, burst_lengths
from voipdns.voip.phone import PhonePath
from voipdns.voip.platform_denoiser import DENOISER_PRESETS, PlatformDenoiser

SR = 16000
WAVEFORM_CODECS = ("g711_mulaw", "g711_alaw", "g722")
CELP_CODECS = ("opus", "amr_nb")  # phase is not kept exactly: +-1 sample (62 us) is the measurement limit


def speech(seconds: float = 2.0, seed: int = 0, peak: float = 0.3) -> np.ndarray:
    wav = synthesize_speech(np.random.default_rng(seed), int(seconds * SR), SR)
    return (peak * wav / np.abs(wav).max()).astype(np.float32)


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - test) ** 2)))


@pytest.mark.parametrize("name", WAVEFORM_CODECS + CELP_CODECS)
def test_codec_round_trip_keeps_length_and_alignment(name):
    if name not in available_codecs():
        pytest.skip(f"codec {name} has no encoder here")
    codec = make_codec(name)
    x = resample(speech(), SR, codec.sample_rate)
    y = codec.transcode(x)
    assert y.shape == x.shape and y.dtype == np.float32
    lag = estimate_delay(x, y, codec.sample_rate).delay_samples
    assert lag == 0 if name in WAVEFORM_CODECS else abs(lag) <= 1


def test_g711_quantisation_snr_is_plausible():
    x = resample(speech(), SR, 8000)
    for name in ("g711_mulaw", "g711_alaw"):
        assert 30.0 < snr_db(x, make_codec(name).transcode(x)) < 45.0  # ~38 dB SQNR of 8-bit companding


def test_lower_bitrates_and_packet_loss_degrade():
    x16, x8 = speech(seed=1), resample(speech(seed=1), SR, 8000)
    amr_high, amr_low = make_codec("amr_nb", bitrate_bps=12200), make_codec("amr_nb", bitrate_bps=4750)
    assert snr_db(x8, amr_high.transcode(x8)) > snr_db(x8, amr_low.transcode(x8))
    for codec, x in ((make_codec("g722"), x16), (make_codec("g711_mulaw"), x8), (make_codec("opus"), x16)):
        lost = np.zeros(codec.packets_for(len(x)) + 4, dtype=bool)
        lost[10:40:3] = True
        lossless, lossy = codec.transcode(x), codec.transcode(x, lost)
        assert snr_db(x, lossy) < snr_db(x, lossless), codec.name
        assert snr_db(lossless, lossy) < 20.0, codec.name  # 10 of ~100 packets concealed


def test_opus_fec_recovers_isolated_losses_better_than_plc():
    x = speech(seed=2)
    with_fec = make_codec("opus", bitrate_bps=24000, fec=True, expected_loss_percent=20)
    without = make_codec("opus", bitrate_bps=24000, fec=False, expected_loss_percent=20)
    reference_fec, reference_plain = with_fec.transcode(x), without.transcode(x)
    lost = np.zeros(with_fec.packets_for(len(x)) + 2, dtype=bool)
    lost[5:95:6] = True  # isolated losses: the next packet always arrives with the LBRR copy
    assert snr_db(reference_fec, with_fec.transcode(x, lost)) > snr_db(reference_plain, without.transcode(x, lost)) + 3


def test_amr_decoder_conceals_a_lost_frame():
    x = resample(speech(seed=3), SR, 8000)
    codec = make_codec("amr_nb")
    lost = np.zeros(codec.packets_for(len(x)) + 2, dtype=bool)
    lost[30] = True
    y = codec.transcode(x, lost)
    frame = y[30 * 160 - codec.delay_samples : 31 * 160 - codec.delay_samples]
    assert np.sqrt(np.mean(frame**2)) > 0.05 * np.sqrt(np.mean(x[30 * 160 : 31 * 160] ** 2) + 1e-12)


def test_repeat_fade_concealment():
    concealer = RepeatFadeConcealer(fade_db_per_packet=6.0, max_repeats=3, crossfade_samples=0)
    packet = np.linspace(-0.5, 0.5, 160, dtype=np.float32)
    concealer.good(packet)
    first, second, third, fourth = (concealer.lost(160) for _ in range(4))
    np.testing.assert_allclose(first, packet)
    np.testing.assert_allclose(second, packet * 10 ** (-6 / 20), rtol=1e-6)
    np.testing.assert_allclose(third, packet * 10 ** (-12 / 20), rtol=1e-6)
    assert not fourth.any()


def test_gilbert_elliott_statistics_match_parameters():
    model = GilbertElliott(p=0.02, r=0.3)
    lost = model.sample(200_000, np.random.default_rng(0))
    assert lost.mean() == pytest.approx(0.02 / 0.32, rel=0.08)
    assert burst_lengths(lost).mean() == pytest.approx(1 / 0.3, rel=0.08)
    bernoulli_burst = 1 / (1 - model.loss_rate)
    assert burst_lengths(lost).mean() > 2 * bernoulli_burst  # bursty, unlike independent loss
    derived = GilbertElliott.from_loss_rate(0.05, mean_burst_packets=2.5)
    assert derived.loss_rate == pytest.approx(0.05) and derived.mean_bad_run_packets == pytest.approx(2.5)
    with pytest.raises(ValueError, match="GilbertElliott.p must be a probability"):
        GilbertElliott(p=1.5)


def test_jitter_buffer_late_loss():
    rng = np.random.default_rng(0)
    assert not JitterBuffer(buffer_ms=60, jitter_std_ms=0.0, spike_probability=0.0).late(1000, rng).any()
    no_buffer = JitterBuffer(buffer_ms=0.0, jitter_std_ms=10.0, spike_probability=0.0).late(20_000, rng)
    assert no_buffer.mean() == pytest.approx(0.5, abs=0.03)  # half the AR(1) delays are > 0
    small = JitterBuffer(buffer_ms=10, jitter_std_ms=10).late(20_000, np.random.default_rng(1)).mean()
    large = JitterBuffer(buffer_ms=40, jitter_std_ms=10).late(20_000, np.random.default_rng(1)).mean()
    assert small > 5 * large


def test_phone_path_is_band_limited_and_aligned():
    x = speech(seed=4) + 0.02 * generate_noise("white", np.random.default_rng(0), 2 * SR, SR).astype(np.float32)
    y = PhonePath()(x, SR, np.random.default_rng(0))
    assert y.shape == x.shape
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    above = spectrum[freqs > 4100].sum() / spectrum.sum()
    assert above < 1e-5 and spectrum[freqs > 3600].sum() / spectrum.sum() < 1e-2
    assert estimate_delay(x, y, SR).delay_samples == 0


def test_agc_moves_towards_target_and_limits():
    agc = AutomaticGainControl(target_dbfs=-20.0, max_gain_db=20.0, release_ms=300.0)
    quiet = speech(seconds=3.0, seed=5, peak=0.02)
    out = agc(quiet, SR)
    level = lambda w: 10 * np.log10(np.mean(w[SR:] ** 2))  # noqa: E731 - after the gain settled
    assert level(out) > level(quiet) + 6.0
    loud = speech(seconds=3.0, seed=5, peak=1.0) * 3.0
    assert np.abs(agc(loud, SR)).max() <= agc.limit + 1e-6


def test_platform_denoiser_auto_suppresses_more_than_low():
    clean = speech(seconds=3.0, seed=6)
    clean[SR : 2 * SR] = 0.0  # a pause where only noise remains
    noisy = clean + 0.01 * generate_noise("pink", np.random.default_rng(1), 3 * SR, SR).astype(np.float32)
    low, auto = PlatformDenoiser(**DENOISER_PRESETS["low"]), PlatformDenoiser(**DENOISER_PRESETS["auto"])
    pause = slice(int(1.3 * SR), int(1.8 * SR))
    energy = {name: np.mean(d(noisy, SR)[pause] ** 2) for name, d in (("low", low), ("auto", auto))}
    assert energy["auto"] < energy["low"] < np.mean(noisy[pause] ** 2)
    assert estimate_delay(clean, auto(noisy, SR), SR).delay_samples == 0


@pytest.mark.parametrize("condition", CONDITIONS)
def test_presets_keep_length_alignment_and_are_deterministic(condition):
    x = speech(seconds=1.5, seed=7) + 0.01 * generate_noise("babble", np.random.default_rng(2), 24000, SR).astype(
        np.float32
    )
    channel = make_preset(condition)
    y, stats = channel.process(x, seed=11)
    assert y.shape == x.shape and np.isfinite(y).all()
    assert abs(estimate_delay(x, y, SR).delay_samples) <= 2
    np.testing.assert_array_equal(y, channel(x, seed=11))
    assert "lost_fraction" in stats and channel.describe()["condition"] == condition
    if "phone" in condition:
        assert channel.describe()["band_hz"] == "300-3400"


def test_different_seeds_give_different_losses():
    channel = make_preset("zm_cloud_low", overrides={"link": {"loss": {"p": 0.2, "r": 0.5}}})
    x = speech(seconds=1.5, seed=8)
    assert not np.array_equal(channel(x, seed=1), channel(x, seed=2))


def test_preset_overrides_and_errors():
    channel = make_preset("gm_cloud_auto", overrides={"link": {"codec": {"bitrate_bps": 16000}}})
    link = [s for s in channel.stages if isinstance(s, CodecLink)][0]
    assert link.codec.bitrate_bps == 16000 and link.codec.fec
    with pytest.raises(ValueError, match="override for stage 'phone'"):
        make_preset("gm_cloud_low", overrides={"phone": {}})
    with pytest.raises(ValueError, match="unknown VoIP-DNS condition 'gm_radio_low'"):
        make_preset("gm_radio_low")
    with pytest.raises(ValueError, match="unknown codec 'speex'"):
        make_codec("speex")
    with pytest.raises(ValueError, match="Opus frame_ms must be one of"):
        make_codec("opus", frame_ms=15)
    with pytest.raises(ValueError, match="AMR-NB bitrate_bps must be one of"):
        make_codec("amr_nb", bitrate_bps=9000)
    with pytest.raises(ValueError, match="needs 'type'"):
        ChannelSimulator(stages=[{"kind": "agc"}])
    assert [s["type"] for s in preset_stages("zm_phone_low")] == ["denoiser", "agc", "link", "phone"]


def test_conditions_and_partitions():
    assert len(CONDITIONS) == 8 and partition_name("gm_cloud_low") == "src_gm_cloud_relay_low"
    assert partition_name("zm_phone_auto", normalised=True) == "nrm_zm_phone_relay_auto"
    assert partition_name("clean") == "src_clean"
    assert select_conditions(platforms=["zm"], settings="auto") == ["zm_cloud_auto", "zm_phone_auto"]
    with pytest.raises(ValueError, match="unknown receiver"):
        select_conditions(receivers=["radio"])


def test_voip_configs_instantiate_every_preset():
    for condition in CONDITIONS:
        cfg = OmegaConf.load(CONFIG_DIR / "voip" / f"{condition}.yaml")
        channel = instantiate(cfg)
        assert isinstance(channel, ChannelSimulator) and channel.condition == condition


def test_augmented_dataset_relays_noisy_and_keeps_clean():
    class Tiny(torch.utils.data.Dataset):
        sample_rate = SR

        def __len__(self):
            return 4

        def __getitem__(self, index):
            wav = torch.from_numpy(speech(seconds=1.0, seed=index))[None]
            return {"noisy": wav.clone(), "clean": wav, "name": f"x{index}", "condition": "synthetic"}

    wrapped = VoIPAugmentedDataset(Tiny(), probability=1.0, condition_weights={"gm_phone_low": 1.0}, seed=3)
    item = wrapped[1]
    assert item["condition"] == "gm_phone_low" and item["noisy"].shape == (1, SR)
    assert not torch.equal(item["noisy"], item["clean"])
    torch.testing.assert_close(wrapped[1]["noisy"], item["noisy"])
    untouched = VoIPAugmentedDataset(Tiny(), probability=0.0)[2]
    assert untouched["condition"] == "synthetic" and torch.equal(untouched["noisy"], untouched["clean"])
    split = VoIPAugmentedDataset(Tiny(), condition_probabilities={"gm_cloud_low": 0.5, "zm_cloud_auto": 0.5})
    assert {split[i]["condition"] for i in range(4)} <= {"gm_cloud_low", "zm_cloud_auto"}
    with pytest.raises(ValueError, match="sum to <= 1"):
        VoIPAugmentedDataset(Tiny(), condition_probabilities={"gm_cloud_low": 0.7, "zm_cloud_auto": 0.5})
    with pytest.raises(ValueError, match="unknown VoIP-DNS condition"):
        VoIPAugmentedDataset(Tiny(), condition_weights=["gm_fax_low"])


def test_codec_without_encoder_or_binary_names_what_to_install(monkeypatch):
    monkeypatch.setattr(codecs_module, "pyav_has", lambda name, mode: False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(CodecUnavailableError, match="no ffmpeg or sox binary is on PATH"):
        make_codec("gsm_fr").encode(np.zeros(1600, np.float32))


def test_external_encoder_fallback_splits_binary_output(monkeypatch, tmp_path):
    """A stand-in `sox` on PATH (PyAV's mu-law encoder in a script) exercises the subprocess fallback."""
    fake = tmp_path / "sox"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, numpy as np\n"
        "from voipdns.voip.codecs import g711\n"
        "pcm = np.frombuffer(sys.stdin.buffer.read(), dtype='<i2').astype(np.float32) / 32767\n"
        "sys.stdout.buffer.write(b''.join(g711('mu')._encode_pyav(np.round(pcm * 32767).astype(np.int16))))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    x = resample(speech(seed=9), SR, 8000)
    expected = make_codec("g711_mulaw").encode(x)
    monkeypatch.setattr(codecs_module, "pyav_has", lambda name, mode: mode == "r")
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    assert make_codec("g711_mulaw").encode(x) == expected


@pytest.mark.skipif("gsm_fr" not in available_codecs(), reason="no GSM encoder here (PyAV lacks one; no ffmpeg/sox)")
def test_gsm_round_trip():
    x = resample(speech(seed=10), SR, 8000)
    y = make_codec("gsm_fr").transcode(x)
    assert y.shape == x.shape and abs(estimate_delay(x, y, 8000).delay_samples) <= 1


def test_codec_link_reports_loss_and_keeps_length():
    link = CodecLink(codec={"name": "g722"}, loss={"p": 0.3, "r": 0.3})
    x = speech(seconds=1.0, seed=12)
    y = link(x, SR, np.random.default_rng(0))
    assert y.shape == x.shape and 0.2 < link.last_stats["lost_fraction"] < 0.8
    assert Path(str(CONFIG_DIR / "voip")).is_dir()


def _librispeech(shared_data: Path, count: int, seconds: float) -> list[np.ndarray]:
    import soundfile as sf

    files = sorted((shared_data / "speech" / "librispeech-train-clean-100").iterdir())[:count]
    return [np.resize(sf.read(f, dtype="float32")[0], int(seconds * SR)) for f in files]


@pytest.mark.shared_data
def test_codecs_stay_aligned_on_real_speech(shared_data):
    for wav in _librispeech(shared_data, 2, 3.0):
        for name in ("opus", "g722", "g711_alaw", "amr_nb"):
            codec = make_codec(name)
            x = resample(0.5 * wav / np.abs(wav).max(), SR, codec.sample_rate)
            lag = estimate_delay(x, codec.transcode(x), codec.sample_rate).delay_samples
            assert abs(lag) <= (0 if name in WAVEFORM_CODECS else 2), name


@pytest.mark.slow
@pytest.mark.shared_data
def test_relay_quality_follows_the_released_relays_ordering(shared_data):
    """VoIP-DNS relays: STOI phone < cloud for each platform and setting; Zoom below Meet on cloud/low."""
    from pesq import pesq
    from pystoi import stoi

    noise = generate_noise("pink", np.random.default_rng(0), 4 * SR, SR).astype(np.float32)
    scores: dict[str, list[tuple[float, float]]] = {}
    for i, wav in enumerate(_librispeech(shared_data, 3, 4.0)):
        clean = 0.1 * wav / np.sqrt(np.mean(wav**2))
        noisy = clean + 0.3 * np.sqrt(np.mean(clean**2)) * noise / np.sqrt(np.mean(noise**2))
        for condition in CONDITIONS:
            relay = make_preset(condition)(noisy, seed=i)
            scores.setdefault(condition, []).append((pesq(SR, clean, relay, "wb"), stoi(clean, relay, SR)))
    pesq_of = {c: float(np.mean([s[0] for s in v])) for c, v in scores.items()}
    stoi_of = {c: float(np.mean([s[1] for s in v])) for c, v in scores.items()}
    for platform in ("gm", "zm"):
        for setting in ("low", "auto"):
            assert stoi_of[f"{platform}_phone_{setting}"] < stoi_of[f"{platform}_cloud_{setting}"]
    assert pesq_of["zm_cloud_low"] < pesq_of["gm_cloud_low"]
