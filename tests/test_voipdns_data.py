"""VoIP-DNS dataset on tiny trees in the released layout, relay alignment, bad data, and voipdns-simulate."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import open_dict
from scipy import signal

from hydra_helpers import compose_config
from voipdns.audio import save_audio
from voipdns.conditions import CONDITIONS, partition_name
from voipdns.data import alignment
from voipdns.data.alignment import AlignmentError, DelayCache, apply_delay, estimate_delay
from voipdns.data.speech_synth import synthesize_speech
from voipdns.data.voipdns_dataset import VoIPDNSDataset
from voipdns.voip.corpus import simulate
from voipdns.voip.corpus_worker import peak_normalised_int16

SR = 16000
DELAYS = {"gm_cloud_low": 480, "zm_phone_auto": 1234}  # samples the relays lag their source


def speech(seconds, seed):
    return (0.3 * synthesize_speech(np.random.default_rng(seed), int(seconds * SR), SR)).astype(np.float32)


def relay_of(clean: np.ndarray, delay: int, seed: int, extra_samples: int = 800) -> np.ndarray:
    """A relay: band-limited (zero phase), attenuated, noisy, delayed copy of `clean`, recorded longer."""
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")
    shaped = 0.7 * signal.sosfiltfilt(sos, clean) + 0.003 * np.random.default_rng(seed).standard_normal(len(clean))
    return np.concatenate([np.zeros(delay), shaped, np.zeros(extra_samples)]).astype(np.float32)


@pytest.fixture
def voipdns_root(tmp_path):
    root = tmp_path / "VoIP-DNS"
    for split, seconds, fileids in (("train", 3.0, (0, 1, 2, 3)), ("test", 2.0, (10, 11))):
        for fileid in fileids:
            clean = speech(seconds, fileid)
            save_audio(root / split / "src_clean" / f"clean_fileid_{fileid}.wav", clean, SR)
            for condition, delay in DELAYS.items():
                name = f"{partition_name(condition)}/book_0{fileid}_snr3_fileid_{fileid}.wav"
                save_audio(root / split / name, relay_of(clean, delay, fileid), SR)
    return root


def test_estimate_delay_recovers_known_delays_both_ways():
    clean = speech(2.0, 5)
    for delay in (0, 37, 1234, -250):
        degraded = apply_delay(relay_of(clean, 0, 1, extra_samples=0), -delay, len(clean) + 2000)
        estimate = estimate_delay(clean, degraded, SR)
        assert estimate.delay_samples == delay and estimate.envelope_correlation > 0.5
        np.testing.assert_allclose(
            apply_delay(degraded, delay, len(clean))[3000:-3000],
            relay_of(clean, 0, 1, extra_samples=0)[3000:-3000],
            atol=1e-6,
        )


def test_estimate_delay_rejects_unrelated_signal():
    noise = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32)
    with pytest.raises(AlignmentError, match="relay.wav: cannot be aligned.*correlation peak"):
        estimate_delay(speech(2.0, 1), noise, SR, name="relay.wav")


def test_items_carry_conditions_and_are_aligned(voipdns_root):
    ds = VoIPDNSDataset(voipdns_root, "train", conditions=list(DELAYS), delay_cache=None)
    assert len(ds) == 8 and sorted({ds[i]["condition"] for i in range(len(ds))}) == sorted(DELAYS)
    item = ds[5]
    assert item["noisy"].shape == item["clean"].shape == (1, 3 * SR)
    assert item["name"] == f"{item['condition']}_fileid_{ds.items[5][1].split('_')[-1]}"
    assert estimate_delay(item["clean"][0].numpy(), item["noisy"][0].numpy(), SR).delay_samples == 0
    for _, _, relay, clean in ds.items:
        condition = relay.parent.name.replace("src_", "").replace("_relay", "")
        assert ds.delay_of(relay, clean) == DELAYS[condition]


def test_segments_are_aligned_crops(voipdns_root):
    ds = VoIPDNSDataset(
        voipdns_root,
        "train",
        conditions=["zm_phone_auto"],
        segment_seconds=1.0,
        items_per_file=2,
        delay_cache=None,
        seed=4,
    )
    assert len(ds) == 8
    item = ds[(3, 5)]
    assert item["noisy"].shape == (1, SR)
    corr = torch.nn.functional.cosine_similarity(item["noisy"], item["clean"]).item()
    assert corr > 0.6 and estimate_delay(item["clean"][0].numpy(), item["noisy"][0].numpy(), SR).delay_samples == 0


def test_delays_are_cached_and_reused(voipdns_root, tmp_path, monkeypatch):
    cache = tmp_path / "delays.json"
    ds = VoIPDNSDataset(voipdns_root, "test", conditions=["gm_cloud_low"], delay_cache=cache)
    ds.measure_all_delays()
    saved = json.loads(cache.read_text())
    assert sorted(v["delay_samples"] for v in saved.values()) == [480, 480]

    def fail(*args, **kwargs):
        raise AssertionError("delay was measured again instead of read from the cache")

    monkeypatch.setattr("voipdns.data.voipdns_dataset.estimate_delay", fail)
    again = VoIPDNSDataset(voipdns_root, "test", conditions=["gm_cloud_low"], delay_cache=cache)
    assert again[1]["noisy"].shape == (1, 2 * SR)
    assert isinstance(DelayCache(cache), DelayCache) and len(DelayCache(cache)) == 2


def test_condition_filters_and_holdout(voipdns_root):
    ds = VoIPDNSDataset(
        voipdns_root, "test", platforms=["zm"], receivers=["phone"], settings=["auto"], delay_cache=None
    )
    assert ds.conditions == ["zm_phone_auto"]
    train = VoIPDNSDataset(voipdns_root, "train", conditions=list(DELAYS), holdout="train", val_fraction=0.25)
    val = VoIPDNSDataset(voipdns_root, "train", conditions=list(DELAYS), holdout="val", val_fraction=0.25)
    keys = lambda d: {item[1] for item in d.items}  # noqa: E731
    assert keys(train).isdisjoint(keys(val)) and len(keys(val)) == 1 and len(val) == 2


def test_bad_data_errors_name_the_path(voipdns_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere/train does not exist"):
        VoIPDNSDataset(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="src_gm_phone_relay_low is missing; present: .*src_clean"):
        VoIPDNSDataset(voipdns_root, "train", conditions=["gm_phone_low"])
    with pytest.raises(FileNotFoundError, match="nrm_gm_cloud_relay_low is missing.*use_normalised=false"):
        VoIPDNSDataset(voipdns_root, "train", conditions=["gm_cloud_low"], use_normalised=True)
    orphan = voipdns_root / "test" / "src_gm_cloud_relay_low" / "x_fileid_99.wav"
    save_audio(orphan, speech(1.0, 99), SR)
    with pytest.raises(ValueError, match="1 unpaired file.*x_fileid_99.wav"):
        VoIPDNSDataset(voipdns_root, "test", conditions=["gm_cloud_low"])
    with pytest.warns(UserWarning, match="unpaired.*skipped"):
        assert len(VoIPDNSDataset(voipdns_root, "test", conditions=["gm_cloud_low"], on_unpaired="skip")) == 2
    orphan.unlink()
    truncated = voipdns_root / "test" / "src_zm_phone_relay_auto" / "book_010_snr3_fileid_10.wav"
    save_audio(truncated, sf.read(truncated, dtype="float32")[0][:SR], SR)
    ds = VoIPDNSDataset(voipdns_root, "test", conditions=["zm_phone_auto"], delay_cache=None)
    with pytest.raises(ValueError, match="book_010_snr3_fileid_10.wav ends .* before its source"):
        ds[0]
    unrelated = voipdns_root / "test" / "src_gm_cloud_relay_low" / "book_011_snr3_fileid_11.wav"
    save_audio(unrelated, 0.1 * np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32), SR)
    ds = VoIPDNSDataset(voipdns_root, "test", conditions=["gm_cloud_low"], delay_cache=None)
    with pytest.raises(AlignmentError, match="book_011_snr3_fileid_11.wav: cannot be aligned"):
        ds[1]
    assert alignment.MIN_WAVEFORM_CORRELATION < 1


def test_peak_normalisation_formula():
    x = np.array([0.0, 0.25, -0.5, 0.1], dtype=np.float32)
    expected = np.array([0, int(0.8 * 32767 * 0.5), -int(0.8 * 32767), int(0.8 * 32767 * 0.2)], dtype=np.int16)
    np.testing.assert_array_equal(peak_normalised_int16(x), expected)


@pytest.fixture
def tiny_corpus(tmp_path):
    clean, noise = tmp_path / "corpus" / "clean", tmp_path / "corpus" / "noise"
    for i in range(2):
        save_audio(clean / f"utt{i}.wav", speech(1.5, 20 + i), SR)
    save_audio(noise / "fan.wav", 0.05 * np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR)
    return clean, noise


def test_simulate_cli_writes_full_layout_manifest_and_resumes(tiny_corpus, tmp_path):
    clean, noise = tiny_corpus
    out = tmp_path / "sim"
    cfg = compose_config(
        "simulate",
        [
            f"dataset_dir={out}",
            f"source.clean_dir={clean}",
            f"source.noise_dir={noise}",
            "split=test",
            "workers=1",
        ],
        tmp_path / "run",
    )
    manifest = simulate(cfg).manifest
    partitions = {p.name for p in (out / "test").iterdir() if p.is_dir()}
    expected = {partition_name(c, nrm) for c in (*CONDITIONS, "clean", "noisy") for nrm in (False, True)}
    assert partitions == expected and len(partitions) == 20
    assert sorted(p.name for p in (out / "test" / "src_clean").iterdir()) == [
        "clean_fileid_0.wav",
        "clean_fileid_1.wav",
    ]
    rows = list(csv.DictReader(manifest.open()))
    assert len(rows) == 2 * 20
    relay_row = next(r for r in rows if r["partition"] == "src_zm_phone_relay_auto" and r["fileid"] == "1")
    params = json.loads(relay_row["params"])
    assert params["codec"] == "opus" and params["phone1_codec"] == "amr_nb" and float(relay_row["snr_db"]) <= 20
    # nrm_ files hold int16(0.8 * 32767 * x / max|x|) of the src_ file exactly
    src = sf.read(out / "test" / "src_gm_cloud_relay_auto" / "gm_cloud_relay_auto_fileid_0.wav", dtype="float32")[0]
    nrm = sf.read(out / "test" / "nrm_gm_cloud_relay_auto" / "gm_cloud_relay_auto_fileid_0.wav", dtype="int16")[0]
    assert abs(int(np.abs(nrm).max()) - int(0.8 * 32767)) <= 1
    assert np.abs(nrm.astype(np.int32) - peak_normalised_int16(src).astype(np.int32)).max() <= 1
    before = manifest.read_text()
    simulate(cfg)  # resume: everything is done, nothing is rewritten
    assert manifest.read_text() == before
    ds = VoIPDNSDataset(out, "test", include_noisy_source=True, delay_cache=None)
    assert len(ds) == 2 * 9 and ds[3]["noisy"].shape == (1, int(1.5 * SR))
    assert all(ds.delay_of(relay, source) == 0 for _, _, relay, source in ds.items[:4])  # written aligned


def test_simulate_paired_source_keeps_dns_fileids(tmp_path):
    clean_dir, noisy_dir = tmp_path / "clean", tmp_path / "noisy"
    for fileid in (4, 9):
        wav = speech(1.0, fileid)
        save_audio(clean_dir / f"clean_fileid_{fileid}.wav", wav, SR)
        save_audio(noisy_dir / f"book_x_snr0_fileid_{fileid}.wav", wav + 0.01, SR)
    cfg = compose_config(
        "simulate",
        [
            f"dataset_dir={tmp_path / 'sim'}",
            f"source.clean_dir={clean_dir}",
            f"source.noisy_dir={noisy_dir}",
            "conditions=[gm_cloud_low]",
            "normalised=false",
            "workers=1",
        ],
        tmp_path / "run",
    )
    simulate(cfg)
    written = sorted(p.name for p in (tmp_path / "sim" / "train" / "src_gm_cloud_relay_low").iterdir())
    assert written == ["gm_cloud_relay_low_fileid_4.wav", "gm_cloud_relay_low_fileid_9.wav"]
    with open_dict(cfg):
        cfg.source.noise_dir = str(tmp_path)
    with pytest.raises(ValueError, match="not both"):
        simulate(cfg)


def test_voipdns_data_config_builds_train_val_test(voipdns_root, tmp_path):
    import hydra

    for split in ("train", "test"):  # the config's train/val read all eight conditions: add the missing ones
        for source in sorted((voipdns_root / split / "src_clean").iterdir()):
            wav = sf.read(source, dtype="float32")[0]
            for condition in CONDITIONS:
                if condition not in DELAYS:
                    save_audio(voipdns_root / split / partition_name(condition) / source.name, wav, SR)
    cfg = compose_config(
        "train",
        [
            "data=voipdns",
            f"data.train.root={voipdns_root}",
            "data.train.val_fraction=0.25",
            "data.train.segment_seconds=1.0",
        ],
        tmp_path,
    )
    datamodule = hydra.utils.instantiate(cfg.data)
    assert len(datamodule.train) == 3 * 8 * 4 and len(datamodule.val) == 8 and len(datamodule.test) == 2 * 8
    assert datamodule.train[0]["noisy"].shape == (1, SR) and datamodule.test[0]["noisy"].shape == (1, 2 * SR)
