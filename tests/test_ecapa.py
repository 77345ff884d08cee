"""ECAPA-TDNN, fbank, AAM-softmax, EER, embedding cache, enrollment augmentation, segments, configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from voipdns.dsp.mel import mel_filterbank
from voipdns.dsp.room_impulse import reverberate, shoebox_rir, synthetic_rir
from voipdns.speaker.aam_softmax import AamSoftmax
from voipdns.speaker.augment import EnrollmentAugmenter, mix_at_snr
from voipdns.speaker.cache import SpeakerEmbeddingCache, model_hash
from voipdns.speaker.checkpoint import load_embedder, save_embedder
from voipdns.speaker.ecapa import EcapaTdnn
from voipdns.speaker.eer import equal_error_rate, pairwise_trials
from voipdns.speaker.fbank import LogMelFbank
from voipdns.speaker.segments import TrainSegments, ValidationSegments, load_speaker_directory

SMALL = dict(channels=[16, 16, 16, 16, 48], attention_channels=8, res2net_scale=4, se_channels=8, n_mels=24)


def tone(freq_hz: float, seconds: float = 0.5, sample_rate: int = 16000) -> torch.Tensor:
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    return 0.3 * torch.sin(2 * math.pi * freq_hz * t)


def test_fbank_shape_and_mel_peak():
    feats = LogMelFbank()(torch.randn(2, 1, 16000))
    assert feats.shape == (2, 80, 101)  # 10 ms hop, centred frames
    assert torch.allclose(feats.mean(-1), torch.zeros(2, 80), atol=1e-4)  # per-utterance mean normalisation
    filters = mel_filterbank(16000, 512, 80, 0.0, 8000.0, scale="htk", area_norm=False)
    assert filters.shape == (80, 257) and float(filters.max()) <= 1.0
    peak = LogMelFbank(mean_norm=False)(tone(1000.0)[None]).mean(-1).argmax()
    centre_hz = 700 * (10 ** (float(peak + 1) * 2595 * math.log10(1 + 8000 / 700) / 81 / 2595) - 1)
    assert abs(centre_hz - 1000.0) < 60.0


def test_ecapa_output_shape_and_unit_norm():
    wave = torch.randn(3, 1, 8000)
    model = EcapaTdnn(**SMALL).eval()
    assert model(wave).shape == (3, 192)
    normed = EcapaTdnn(**SMALL, normalize=True).eval()
    assert torch.allclose(normed(wave).norm(dim=-1), torch.ones(3), atol=1e-5)
    assert EcapaTdnn(**SMALL, embedding_dim=32).eval()(wave[:, 0]).shape == (3, 32)


def test_ecapa_rejects_inconsistent_layout():
    with pytest.raises(ValueError, match="same length"):
        EcapaTdnn(channels=[8, 8, 8, 24], kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1])
    with pytest.raises(ValueError, match="divisible by res2net_scale"):
        EcapaTdnn(channels=[10, 10, 10, 10, 30], res2net_scale=4)


def test_aam_softmax_applies_margin_and_loss_decreases():
    torch.manual_seed(0)
    head = AamSoftmax(192, 4, margin=0.2, scale=30.0)
    embeddings = torch.randn(8, 192)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    logits, cosine = head.logits(embeddings, labels), head.cosine(embeddings)
    target = logits.gather(1, labels[:, None]).squeeze(1) / 30.0
    assert torch.all(target < cosine.gather(1, labels[:, None]).squeeze(1))  # margin lowers the target logit
    model = EcapaTdnn(**SMALL)
    head = AamSoftmax(192, 4)
    waves = torch.stack([tone(f, 0.25) + 0.01 * torch.randn(4000) for f in (200, 450, 900, 1800)] * 2)
    optimizer = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-2)
    losses = []
    for _ in range(6):
        loss = head(model(waves), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]
    with pytest.raises(ValueError, match="labels must lie in"):
        head(torch.randn(1, 192), torch.tensor([4]))


def test_eer_known_values():
    assert equal_error_rate(torch.tensor([0.9, 0.8, 0.1, 0.2]), torch.tensor([1, 1, 0, 0]))[0] == 0.0
    assert equal_error_rate(torch.tensor([0.1, 0.2, 0.9, 0.8]), torch.tensor([1, 1, 0, 0]))[0] == 1.0
    eer, _ = equal_error_rate(torch.tensor([0.9, 0.5, 0.6, 0.1]), torch.tensor([1, 1, 0, 0]))
    assert eer == 0.5
    scores, same = pairwise_trials(torch.eye(3), torch.tensor([0, 0, 1]))
    assert same.tolist() == [True, False, False] and torch.allclose(scores, torch.zeros(3))
    with pytest.raises(ValueError, match="target and non-target"):
        equal_error_rate(torch.tensor([0.1]), torch.tensor([1]))


def test_embedding_cache_computes_saves_and_keys_by_model(tmp_path):
    model = EcapaTdnn(**SMALL).eval()
    cache = SpeakerEmbeddingCache(tmp_path, model)
    clips = [tone(300.0), tone(310.0, 0.4)]
    embedding = cache.get("spk-1", clips)
    assert embedding.shape == (192,) and math.isclose(float(embedding.norm()), 1.0, rel_tol=1e-5)
    assert (tmp_path / model_hash(model) / "spk-1.pt").exists()
    assert torch.equal(cache.get("spk-1"), embedding)  # second call reads the file, no clips needed
    other = EcapaTdnn(**SMALL)
    assert model_hash(other) != model_hash(model)
    with pytest.raises(KeyError, match="no cached embedding"):
        SpeakerEmbeddingCache(tmp_path, other).get("spk-1")
    with pytest.raises(ValueError, match="not a safe file name"):
        cache.get("../evil", clips)


def test_embedder_checkpoint_roundtrip(tmp_path):
    cfg = {"_target_": "voipdns.speaker.ecapa.EcapaTdnn", **SMALL}
    model = instantiate(cfg).eval()
    path = save_embedder(tmp_path / "embedder.pt", model, cfg)
    wave = torch.randn(1, 4000)
    assert torch.allclose(load_embedder(path)(wave), model(wave))
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: not a voipdns speaker-embedder"):
        load_embedder(tmp_path / "bad.pt")


def test_enrollment_augmentation_variants():
    speech, noise = tone(250.0, 1.0)[None], torch.randn(1, 5000)
    augmenter = EnrollmentAugmenter([noise], n_variants=10, snr_range_db=(5.0, 5.0), reverb_probability=0.5)
    variants = augmenter(speech, torch.Generator().manual_seed(0))
    assert len(variants) == 10 and all(v.shape == speech.shape for v in variants)
    assert len({round(float(v.sum()), 4) for v in variants}) == 10  # all different
    again = augmenter(speech, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(variants, again, strict=False))
    mixed = mix_at_snr(speech, noise[:, :16000].repeat(1, 4)[:, :16000], 10.0)
    residual = mixed - speech
    assert abs(10 * math.log10(float(speech.square().mean() / residual.square().mean())) - 10.0) < 1e-3
    with pytest.raises(ValueError, match="rir_method"):
        EnrollmentAugmenter([noise], rir_method="convolution")


def test_synthetic_rir_decays_60_db_in_rt60():
    rir = synthetic_rir(0.3, 16000, torch.Generator().manual_seed(0))
    assert rir.numel() == 4800 and float(rir[0]) == 1.0
    early, late = rir[100:600].square().mean(), rir[-500:].square().mean()
    assert 10 * math.log10(float(early / late)) > 40.0
    impulse = torch.zeros(1, 1000)
    impulse[0, 10] = 1.0
    assert torch.allclose(reverberate(impulse, rir)[0, 10:1000], rir[:990], atol=1e-5)


@pytest.mark.slow
def test_pyroomacoustics_rir_is_aligned_and_decays():
    rir = shoebox_rir(0.4, 16000, torch.Generator().manual_seed(0))
    assert float(rir[0]) == 1.0 and float(rir[1000:].abs().max()) < 1.0


def test_speaker_segments_hold_out_the_tail(tmp_path):
    for speaker, freq in (("11", 200.0), ("22", 400.0), ("33", 800.0)):
        sf.write(tmp_path / f"{speaker}-100-0000.flac", np.asarray(tone(freq, 2.0)), 16000)
    utterances = load_speaker_directory(tmp_path)
    train = TrainSegments(utterances, 4000, val_fraction=0.25, length=6, seed=0)
    val = ValidationSegments(utterances, train.speakers, 4000, val_fraction=0.25, per_speaker=2, min_samples=2000)
    assert train.speakers == ["11", "22", "33"] and len(val) == 6
    assert all(part.numel() == 24000 for part in train.parts)  # first 75 % of 2 s
    wave, label = train[0]
    assert wave.shape == (4000,) and label in (0, 1, 2)
    tail = utterances[0].wave[24000:]
    assert torch.equal(val[0][0], tail[:4000]) and val[0][1] == 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no audio files"):
        load_speaker_directory(tmp_path / "empty")


def test_ecapa_yaml_and_recipe_config_instantiate(project_root):
    cfg = OmegaConf.load(project_root / "conf" / "embedder" / "ecapa.yaml")
    assert list(cfg.channels) == [1024, 1024, 1024, 1024, 3072] and cfg.embedding_dim == 192
    cfg.channels = [16, 16, 16, 16, 48]
    assert isinstance(instantiate(cfg), EcapaTdnn)
    # the small embedder voipdns-train-speaker (recipes/speaker_embedder) trains
    recipe = OmegaConf.load(project_root / "conf" / "speaker_embedder.yaml")
    recipe.sample_rate = 16000
    model = instantiate(recipe.embedder)
    assert model.eval()(torch.randn(1, 4000)).shape == (1, 192)
