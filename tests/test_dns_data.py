"""DNS-2020 synthesis and official test-set layout, DNS-4 (non-)personalised mixtures, RIR sources."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from voipdns.audio import save_audio
from voipdns.data.dns4 import DNS4Dataset, vad_labels
from voipdns.data.dns2020 import DNS2020SynthesisDataset, DNS2020TestSet
from voipdns.data.mixing import level_dbfs
from voipdns.data.rir import RIRSource, apply_reverb
from voipdns.data.speech_synth import synthesize_speech

SR = 16000


def write(path, wav, sample_rate=SR):
    save_audio(path, np.asarray(wav, dtype=np.float32), sample_rate)
    return path


def speech(seconds, seed):
    return 0.3 * synthesize_speech(np.random.default_rng(seed), int(seconds * SR), SR)


def tone(seconds, hz, sample_rate=SR, amplitude=0.3):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * hz * t)


@pytest.fixture
def dns2020_tree(tmp_path):
    clean, noise = tmp_path / "clean", tmp_path / "noise"
    for reader in range(4):
        for utt in range(2):
            write(
                clean / f"book_{reader:05d}_chp_0001_reader_{reader:05d}_{utt}.wav",
                speech(1.5, 10 * reader + utt),
            )
    rng = np.random.default_rng(0)
    for k in range(3):
        write(noise / f"noise_{k}.wav", 0.1 * rng.standard_normal(SR))
    return clean, noise


def test_dns2020_synthesis_items_levels_and_determinism(dns2020_tree):
    clean, noise = dns2020_tree
    ds = DNS2020SynthesisDataset(clean, noise, segment_seconds=1.0, seed=3)
    item = ds[0]
    assert set(item) == {"noisy", "clean", "name", "condition"}
    assert item["noisy"].shape == item["clean"].shape == (1, SR) and item["condition"] == "no_reverb"
    levels = [level_dbfs(ds[i]["noisy"]) for i in range(len(ds))]
    assert all(-35.5 <= lv <= -14.5 for lv in levels)
    torch.testing.assert_close(ds[2]["noisy"], ds[2]["noisy"])
    assert not torch.equal(ds[(0, 2)]["noisy"], ds[(1, 2)]["noisy"])  # a new mixture every epoch
    noisy, target = ds[1]["noisy"], ds[1]["clean"]
    assert float((noisy - target).pow(2).mean()) > 0  # noise was added


def test_dns2020_split_by_reader_is_disjoint(dns2020_tree):
    clean, noise = dns2020_tree
    train = DNS2020SynthesisDataset(clean, noise, split="train", val_fraction=0.25, segment_seconds=1.0)
    val = DNS2020SynthesisDataset(clean, noise, split="val", val_fraction=0.25, segment_seconds=1.0)
    readers = lambda ds: {p.stem.split("_reader_")[1][:5] for p in ds.clean_files}  # noqa: E731
    assert readers(train).isdisjoint(readers(val)) and len(readers(val)) == 1


def test_dns2020_reverberant_items_and_targets(dns2020_tree):
    clean, noise = dns2020_tree
    rir = RIRSource(simulate=True, method="synthetic", num_simulated_rooms=4, rt60_range_seconds=(0.3, 0.5))
    ds = DNS2020SynthesisDataset(
        clean,
        noise,
        segment_seconds=1.0,
        rir=rir,
        reverb_probability=1.0,
        reverb_target="dry",
        snr_db_range=(40, 40),
    )
    item = ds[0]
    assert item["condition"] == "with_reverb"
    with pytest.raises(ValueError, match="reverb_probability > 0 needs rir"):
        DNS2020SynthesisDataset(clean, noise, reverb_probability=0.5)


def test_rir_folder_and_reverb_targets(tmp_path):
    rir = np.zeros((800, 2))
    rir[40, 0], rir[41:, 0] = 1.0, 0.2 * np.exp(-np.arange(759) / 100)
    rir[60, 1] = 0.5
    (tmp_path / "rirs").mkdir()
    sf.write(tmp_path / "rirs" / "room.wav", rir, SR)  # 2 channels: one is drawn per item
    source = RIRSource(rir_dir=tmp_path / "rirs")
    drawn = source.draw(np.random.default_rng(0))
    assert int(drawn.abs().argmax()) == 0 and float(drawn.abs().max()) == pytest.approx(1.0)
    x = torch.from_numpy(speech(1.0, 1).astype(np.float32))[None]
    heard, target = apply_reverb(x, drawn, "dry")
    assert torch.equal(target, x) and heard.shape == x.shape
    _, early = apply_reverb(x, drawn, "early", early_ms=1.0)
    assert early.shape == x.shape
    with pytest.raises(ValueError, match="either rir_dir"):
        RIRSource()


@pytest.fixture
def dns2020_test_tree(tmp_path):
    root = tmp_path / "test_set"
    for condition, seed in (("no_reverb", 0), ("with_reverb", 100)):
        for fileid in (3, 7):
            clean = speech(1.0, seed + fileid)
            write(root / "synthetic" / condition / "clean" / f"clean_fileid_{fileid}.wav", clean)
            noisy = 0.5 * clean + 0.002 * np.random.default_rng(fileid).standard_normal(len(clean))
            write(root / "synthetic" / condition / "noisy" / f"book_0001_chp_02_snr5_fileid_{fileid}.wav", noisy)
    write(root / "real_recordings" / "ms_realrec_headset_cleaning_A1.wav", speech(1.2, 5))
    return root


def test_dns2020_test_set_pairs_by_fileid_per_condition(dns2020_test_tree):
    ds = DNS2020TestSet(dns2020_test_tree, subsets=["no_reverb", "with_reverb", "real_recordings"])
    assert len(ds) == 5
    conditions = [ds[i]["condition"] for i in range(len(ds))]
    assert conditions == ["no_reverb"] * 2 + ["with_reverb"] * 2 + ["real_recordings"]
    for i in range(4):  # each noisy is paired with its own clean (noisy = 0.5 clean + noise)
        noisy, clean = ds[i]["noisy"], ds[i]["clean"]
        assert torch.nn.functional.cosine_similarity(noisy, clean).item() > 0.9
    assert "clean" not in ds[4]


def test_dns2020_test_set_bad_layout_names_the_path(dns2020_test_tree, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing folder .*real_recordings"):
        (dns2020_test_tree / "real_recordings" / "ms_realrec_headset_cleaning_A1.wav").unlink()
        (dns2020_test_tree / "real_recordings").rmdir()
        DNS2020TestSet(dns2020_test_tree, subsets=["real_recordings"])
    (dns2020_test_tree / "synthetic" / "no_reverb" / "clean" / "clean_fileid_7.wav").unlink()
    with pytest.raises(ValueError, match="unpaired files.*fileid_7"):
        DNS2020TestSet(dns2020_test_tree, subsets=["no_reverb"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DNS2020TestSet(tmp_path / "nowhere")


@pytest.fixture
def pdns_tree(tmp_path):
    """DNS-4 personalised layout; speaker A speaks a 300 Hz tone with a pause, speaker B/C 1000/1500 Hz."""
    raw, enrol = (
        tmp_path / "pdns_training_set" / "raw" / "clean",
        tmp_path / "pdns_training_set" / "enrollment_wav",
    )
    for stem, hz in (("spkA_book_01", 300.0), ("spkB_book_02", 1000.0), ("spkC_book_03", 1500.0)):
        wav = tone(4.5, hz)
        if stem.startswith("spkA"):
            wav[int(1.0 * SR) : int(1.5 * SR)] = 0.0
        write(raw / "english" / f"{stem}.wav", wav)
        write(enrol / "english" / f"enrol_{stem}.wav", tone(2.0, hz))
    noise = tmp_path / "noise"
    write(noise / "n.wav", 0.001 * np.random.default_rng(0).standard_normal(SR))
    return raw, enrol, noise


def band_energy(wav: torch.Tensor, low: float, high: float) -> float:
    spectrum = torch.fft.rfft(wav.reshape(-1).double()).abs() ** 2
    freqs = torch.fft.rfftfreq(wav.shape[-1], 1 / SR)
    return float(spectrum[(freqs > low) & (freqs < high)].sum() / spectrum.sum())


def test_dns4_personalised_removes_interferer_non_personalised_keeps_it(pdns_tree):
    raw, enrol, noise = pdns_tree
    common = dict(
        clean_dir=raw,
        noise_dir=noise,
        enrollment_dir=enrol,
        segment_seconds=4.0,
        interferer_probability=1.0,
        snr_db_range=(40, 40),
        sir_db_range=(0, 0),
        seed=1,
    )
    personal = DNS4Dataset(track="personalized", **common)
    everyone = DNS4Dataset(track="non_personalized", **common)
    item, item_all = personal[0], everyone[0]
    assert item["speaker"] == "spkA_book_01" and item["enrollment"].endswith("enrol_spkA_book_01.wav")
    assert item["condition"] == "personalized_interferer"
    assert band_energy(item["noisy"], 900, 1600) > 0.2  # the interferer is in the mixture
    assert band_energy(item["clean"], 900, 1600) < 1e-3  # ... not in the personalised target
    assert band_energy(item_all["clean"], 900, 1600) > 0.2  # ... kept by the non-personalised target
    frames = -(-4 * SR // 160) + 1
    assert item["q"].shape == item["vad"].shape == (frames,)
    assert torch.all(item["q"] == 1) and torch.all(item_all["q"] == 0)


def test_dns4_vad_follows_target_activity():
    wav = torch.from_numpy(tone(2.0, 300)).float()[None]
    wav[:, SR // 2 : SR] = 0
    vad = vad_labels(wav, SR)
    assert vad[20:45].eq(1).all() and vad[55:95].eq(0).all() and vad[105:190].eq(1).all()


def test_dns4_unified_q_switches_target(pdns_tree):
    raw, enrol, noise = pdns_tree
    ds = DNS4Dataset(
        raw,
        noise,
        enrol,
        track="unified",
        segment_seconds=4.0,
        interferer_probability=1.0,
        snr_db_range=(40, 40),
        sir_db_range=(0, 0),
        q_probabilities=(0, 0, 1),
        seed=2,
    )
    item = ds[0]
    q = item["q"]
    assert set(q.unique().tolist()) == {0.0, 1.0}
    runs = torch.diff(
        torch.nonzero(torch.diff(q)).flatten(), prepend=torch.tensor([-1]), append=torch.tensor([len(q) - 1])
    )
    assert int(runs.min()) >= 200
    on = int(torch.nonzero(q == 1)[0]) * 160, int(torch.nonzero(q == 0)[0]) * 160
    segment = lambda start: item["clean"][:, start + 800 : start + 800 + 8000]  # noqa: E731 - inside a run
    assert band_energy(segment(on[0]), 900, 1600) < 1e-3 < band_energy(segment(on[1]), 900, 1600)


def test_dns4_enrollment_audio_and_embedding_cache(pdns_tree, tmp_path):
    raw, enrol, noise = pdns_tree
    cache = tmp_path / "emb"
    cache.mkdir()
    for speaker in ("spkA_book_01", "spkB_book_02", "spkC_book_03"):
        torch.save(torch.ones(192), cache / f"{speaker}.pt")
    ds = DNS4Dataset(
        raw,
        noise,
        enrol,
        enrollment_mode="audio",
        enrollment_seconds=1.0,
        embedding_dir=cache,
        segment_seconds=1.0,
    )
    item = ds[1]
    assert item["enrollment"].shape == (1, SR) and item["embedding"].shape == (192,)
    (cache / "spkC_book_03.pt").unlink()
    with pytest.raises(FileNotFoundError, match="spkC_book_03.pt"):
        ds[2]


def test_dns4_missing_enrollment_errors_or_skips(pdns_tree):
    raw, enrol, noise = pdns_tree
    (enrol / "english" / "enrol_spkB_book_02.wav").unlink()
    with pytest.raises(ValueError, match="1 speaker.*spkB_book_02.*enrol_spkB_book_02"):
        DNS4Dataset(raw, noise, enrol)
    with pytest.warns(UserWarning, match="skipped"):
        ds = DNS4Dataset(raw, noise, enrol, missing_enrollment="skip", segment_seconds=1.0)
    assert {p.stem for p in ds.files} == {"spkA_book_01", "spkC_book_03"}
    with pytest.raises(ValueError, match="needs enrollment_dir"):
        DNS4Dataset(raw, noise, track="unified")


def test_dns_data_configs_build(dns2020_tree, dns2020_test_tree, pdns_tree, tmp_path):
    import hydra

    from hydra_helpers import compose_config

    clean, noise = dns2020_tree
    cfg = compose_config(
        "train",
        [
            "data=dns2020",
            f"data.train.clean_dir={clean}",
            f"data.train.noise_dir={noise}",
            f"data.test.root={dns2020_test_tree}",
            "data.train.val_fraction=0.25",
        ],
        tmp_path,
    )
    datamodule = hydra.utils.instantiate(cfg.data)
    assert len(datamodule.test) == 4 and datamodule.val[0]["noisy"].shape == (1, 10 * SR)
    raw, enrol, pdns_noise = pdns_tree
    cfg = compose_config(
        "train",
        [
            "data=dns4_personalized",
            f"data.train.clean_dir={raw}",
            f"data.train.enrollment_dir={enrol}",
            f"data.train.noise_dir={pdns_noise}",
            "data.train.split=all",
            "data.val.split=all",
            "data.train.track=unified",
        ],
        tmp_path,
    )
    datamodule = hydra.utils.instantiate(cfg.data)
    item = datamodule.train[0]
    assert {"q", "vad", "speaker", "enrollment"} <= set(item) and item["noisy"].shape == (1, 4 * SR)
    cfg = compose_config(
        "train",
        [
            "data=dns4",
            f"data.train.clean_dir={raw}",
            f"data.train.noise_dir={pdns_noise}",
            "data.train.split=all",
            "data.val.split=all",
        ],
        tmp_path,
    )
    assert torch.all(hydra.utils.instantiate(cfg.data).train[1]["q"] == 0)
