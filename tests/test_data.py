"""voipdns.data: synthetic speech, mixing, folder/pair datasets, the DataModule and the data configs."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from voipdns.data.datamodule import EnhancementDataModule
from voipdns.data.epochs import EpochIndexSampler
from voipdns.data.folders import FolderMixDataset
from voipdns.data.mixing import (
    active_frame_mask,
    crop_or_pad,
    level_dbfs,
    loop_to_length,
    mix,
    prevent_clipping,
    snr_db,
)
from voipdns.data.pairs import PairedFolderDataset
from voipdns.data.synthetic import SyntheticSpeechDataset

SR = 16000


def _frame_db(wav: torch.Tensor, frame: int = 320) -> np.ndarray:
    x = wav.reshape(-1).numpy().astype(np.float64)
    x = x[: len(x) // frame * frame].reshape(-1, frame)
    return 10 * np.log10((x**2).mean(1) + 1e-20)


def _pitch_strength(frame: np.ndarray) -> tuple[float, float]:
    """(normalised autocorrelation peak, its f0 in Hz) over 70-400 Hz lags."""
    frame = frame - frame.mean()
    ac = np.correlate(frame, frame, "full")[len(frame) - 1 :]
    lags = np.arange(SR // 400, SR // 70)
    best = lags[np.argmax(ac[lags])]
    return float(ac[best] / ac[0]), SR / best


# ---------------------------------------------------------------- synthetic speech


def test_synthetic_item_shapes_and_names():
    ds = SyntheticSpeechDataset(num_items=4, segment_seconds=1.5, seed=3)
    item = ds[2]
    assert item["noisy"].shape == item["clean"].shape == (1, 24000)
    assert item["noisy"].dtype == torch.float32
    assert item["name"] == "synthetic_000002"
    assert item["condition"] in ds.noise_types
    assert len(ds) == 4 and ds.sample_rate == SR
    with pytest.raises(IndexError, match="index 4 out of range"):
        ds[4]


def test_synthetic_is_deterministic_per_index_and_seed():
    a = SyntheticSpeechDataset(num_items=8, segment_seconds=1.0, seed=7)
    b = SyntheticSpeechDataset(num_items=8, segment_seconds=1.0, seed=7)
    c = SyntheticSpeechDataset(num_items=8, segment_seconds=1.0, seed=8)
    _ = a[1]  # order and history must not matter
    for key in ("noisy", "clean"):
        assert torch.equal(a[5][key], b[5][key])
        assert torch.equal(a[5][key], a[(0, 5)][key])  # epoch 0 == plain index
        assert not torch.equal(a[5][key], c[5][key])
        assert not torch.equal(a[5][key], a[4][key])
        assert not torch.equal(a[5][key], a[(1, 5)][key])  # a new draw in another epoch


def test_synthetic_speech_has_voiced_frames_pauses_and_pitch():
    ds = SyntheticSpeechDataset(num_items=6, segment_seconds=4.0, seed=11, noise_types=["white"])
    for index in range(len(ds)):
        clean = ds[index]["clean"]
        frame_db = _frame_db(clean)
        relative = frame_db - frame_db.max()
        active = relative > -40
        assert 0.3 < active.mean() < 0.95, "speech should be mostly active with some pauses"
        assert (relative < -45).mean() > 0.05, "pauses (near-silent 20 ms frames) should be present"
        # voiced frames: strong periodicity with an adult-speech f0
        x = clean[0].numpy().astype(np.float64)
        loud = np.argsort(frame_db)[-5:]
        strengths = [_pitch_strength(x[i * 320 : i * 320 + 640]) for i in loud]
        assert max(s for s, _ in strengths) > 0.5
        assert all(70 <= f0 <= 400 for s, f0 in strengths if s > 0.5)


def test_synthetic_snr_and_level_within_ranges_for_every_noise_type():
    for noise_type in ("babble", "white", "pink", "brown", "hum", "clicks"):
        ds = SyntheticSpeechDataset(
            num_items=3,
            segment_seconds=2.0,
            seed=5,
            noise_types=[noise_type],
            snr_db_range=(0, 10),
            level_dbfs_range=(-30, -20),
        )
        for index in range(len(ds)):
            item = ds[index]
            assert item["condition"] == noise_type
            assert torch.isfinite(item["noisy"]).all() and item["noisy"].abs().max() <= 0.99 + 1e-6
            measured = snr_db(item["clean"], item["noisy"] - item["clean"], SR)
            assert -0.05 <= measured <= 10.05, (noise_type, measured)
            level = level_dbfs(item["noisy"])
            clip_rescaled = item["noisy"].abs().max().item() == pytest.approx(0.99, abs=1e-4)
            assert level <= -19.95 and (level >= -30.05 or clip_rescaled), (noise_type, level)


def test_synthetic_rejects_unknown_noise_type():
    with pytest.raises(ValueError, match=r"unknown noise_types \['rain'\]"):
        SyntheticSpeechDataset(noise_types=["white", "rain"])


# ---------------------------------------------------------------- mixing


def test_mix_hits_snr_and_level_exactly():
    rng = np.random.default_rng(0)
    clean = torch.zeros(1, SR)
    clean[:, 3200:11200] = torch.from_numpy(rng.standard_normal(8000).astype(np.float32)) * 0.1
    noise = torch.from_numpy(rng.standard_normal(SR).astype(np.float32))
    mixture = mix(clean, noise[None], 5.0, -26.0, SR)
    assert torch.allclose(mixture.noisy, mixture.clean + mixture.noise, atol=1e-6)
    assert snr_db(mixture.clean, mixture.noise, SR) == pytest.approx(5.0, abs=0.01)
    # over active speech only: counting the half-second of silence would give 3 dB less
    assert snr_db(mixture.clean, mixture.noise, SR, active_speech=False) == pytest.approx(2.0, abs=0.05)
    assert level_dbfs(mixture.noisy) == pytest.approx(-26.0, abs=0.01)
    assert not mixture.clip.clipped
    assert active_frame_mask(clean, SR).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_prevent_clipping_rescales_all_signals_together():
    noisy = torch.tensor([0.5, -2.0, 1.0])
    clean = torch.tensor([0.4, -1.0, 0.5])
    fixed, (clean_fixed,), report = prevent_clipping(noisy, clean, max_abs=0.99)
    assert report.clipped and report.peak_before == pytest.approx(2.0)
    assert fixed.abs().max().item() == pytest.approx(0.99)
    assert torch.allclose(clean_fixed / clean, fixed / noisy)


def test_crop_pad_and_loop_are_seeded():
    wav = torch.arange(10.0)[None]
    crop_a = crop_or_pad(wav, 4, np.random.default_rng(1))
    assert torch.equal(crop_a, crop_or_pad(wav, 4, np.random.default_rng(1)))
    assert crop_a.shape == (1, 4) and torch.equal(crop_a[0], torch.arange(4.0) + crop_a[0, 0])
    padded = crop_or_pad(wav, 15, np.random.default_rng(2))
    assert padded.shape == (1, 15) and padded.sum() == wav.sum()
    looped = loop_to_length(wav, 25, np.random.default_rng(3))
    assert looped.shape == (1, 25)
    assert torch.equal(looped[0, 10:20], looped[0, :10])  # period 10 kept


# ---------------------------------------------------------------- folder mixing


def _tone_file(path, seconds: float, sample_rate: int = SR, freq_hz: float = 200.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq_hz * t), sample_rate, subtype="PCM_16")


@pytest.fixture()
def tiny_tree(tmp_path):
    speech, noise = tmp_path / "speech", tmp_path / "noise"
    for speaker in ("11", "22", "33", "44", "55"):
        for utt in range(2):
            rate = 8000 if speaker == "33" else SR  # one speaker recorded at 8 kHz: resampled on load
            _tone_file(speech / f"{speaker}-100-{utt:04d}.wav", 1.2 if utt else 0.6, rate, 100.0 + int(speaker))
    rng = np.random.default_rng(0)
    for name in ("fan", "street", "cafe", "rain"):
        (noise / name).mkdir(parents=True)
        sf.write(noise / name / f"{name}.flac", 0.1 * rng.standard_normal(SR // 2), SR)
    return speech, noise


def _folder(speech, noise, split, **kwargs):
    return FolderMixDataset(speech, noise, segment_seconds=1.0, split=split, val_fraction=0.4, seed=4, **kwargs)


def test_folder_split_is_disjoint_by_speaker_and_noise(tiny_tree):
    speech, noise = tiny_tree
    train, val = _folder(speech, noise, "train"), _folder(speech, noise, "val")
    speakers = lambda ds: {p.name.split("-")[0] for p in ds.speech_files}  # noqa: E731
    assert speakers(train).isdisjoint(speakers(val))
    assert len(speakers(val)) == 2 and len(speakers(train)) == 3  # round(0.4 * 5)
    assert len(train) == 6 and len(val) == 4  # one item per file by default
    assert set(train.noise_files).isdisjoint(val.noise_files)
    assert len(train.noise_files) + len(val.noise_files) == 4


def test_folder_three_way_split_is_disjoint_and_keeps_val_without_test(tiny_tree):
    speech, noise = tiny_tree
    speakers = lambda ds: {p.name.split("-")[0] for p in ds.speech_files}  # noqa: E731
    parts = {split: _folder(speech, noise, split, test_fraction=0.2) for split in ("train", "val", "test")}
    assert [len(speakers(parts[s])) for s in ("train", "val", "test")] == [2, 2, 1]
    assert speakers(parts["test"]).isdisjoint(speakers(parts["train"]) | speakers(parts["val"]))
    assert set(parts["test"].noise_files).isdisjoint(set(parts["train"].noise_files) | set(parts["val"].noise_files))
    assert sum(len(part.noise_files) for part in parts.values()) == 4
    # asking for a test share moves groups out of train and val; without one, val is what it always was
    assert speakers(_folder(speech, noise, "val")) == speakers(_folder(speech, noise, "val", test_fraction=0.0))
    with pytest.raises(ValueError, match="split='test' .* needs test_fraction > 0"):
        _folder(speech, noise, "test")


def test_synthetic_noise_around_real_speech_files(tiny_tree):
    speech, noise = tiny_tree
    (noise.parent / "empty").mkdir()
    dataset = SyntheticSpeechDataset(num_items=4, segment_seconds=0.5, speech_dir=speech, seed=3)
    first, again = dataset[1], dataset[1]
    assert first["noisy"].shape == (1, SR // 2) and torch.equal(first["noisy"], again["noisy"])
    spectrum = np.abs(np.fft.rfft(first["clean"][0].numpy()))
    assert 95 < np.argmax(spectrum) * 2 < 160  # a tone file's 111..155 Hz, not generated speech
    with pytest.raises(FileNotFoundError, match="empty holds no files"):
        SyntheticSpeechDataset(speech_dir=noise.parent / "empty")


def test_folder_items_val_fixed_train_changes_per_epoch(tiny_tree):
    speech, noise = tiny_tree
    val = _folder(speech, noise, "val", snr_db_range=(0, 5))
    item = val[1]
    assert item["noisy"].shape == item["clean"].shape == (1, SR)
    assert torch.equal(item["noisy"], _folder(speech, noise, "val", snr_db_range=(0, 5))[1]["noisy"])
    assert re.fullmatch(r"val_000001_\d\d-100-000\d", item["name"])
    assert item["condition"] in {"fan", "street", "cafe", "rain"}
    assert 0 - 0.05 <= snr_db(item["clean"], item["noisy"] - item["clean"], SR) <= 5.05
    train = _folder(speech, noise, "train")
    assert torch.equal(train[(2, 3)]["noisy"], train[(2, 3)]["noisy"])
    assert not torch.equal(train[(0, 3)]["noisy"], train[(1, 3)]["noisy"])


def test_folder_speaker_from_parent_dir_and_bad_names(tmp_path, tiny_tree):
    _, noise = tiny_tree
    speech = tmp_path / "by_dir"
    for speaker in ("p225", "p226", "p227"):
        _tone_file(speech / speaker / "a.wav", 0.5)
        _tone_file(speech / speaker / "b.wav", 0.5)
    train = FolderMixDataset(speech, noise, 0.5, split="train", speaker_from="parent_dir", val_fraction=0.34)
    val = FolderMixDataset(speech, noise, 0.5, split="val", speaker_from="parent_dir", val_fraction=0.34)
    assert {p.parent.name for p in train.speech_files}.isdisjoint({p.parent.name for p in val.speech_files})
    with pytest.raises(ValueError, match=r"a\.wav: name is not LibriSpeech-style"):
        FolderMixDataset(speech, noise, 0.5, split="train")
    by_file = FolderMixDataset(speech, noise, 0.5, split="val", split_by="file", val_fraction=0.5)
    assert len(by_file.speech_files) == 3


def test_folder_errors_name_the_problem(tmp_path, tiny_tree):
    speech, noise = tiny_tree
    with pytest.raises(FileNotFoundError, match="missing.*does not exist"):
        FolderMixDataset(speech, tmp_path / "missing")
    single = tmp_path / "one_noise"
    _tone_file(single / "hum.wav", 0.5)
    with pytest.raises(ValueError, match="cannot split noise files .* only 1 distinct group"):
        FolderMixDataset(speech, single, split="val")
    assert len(FolderMixDataset(speech, single, 0.5, split="all").noise_files) == 1


# ---------------------------------------------------------------- pairs


def test_pairs_by_fileid_whole_clips_and_crops(tmp_path):
    for n, seconds in ((3, 0.5), (12, 0.8)):
        _tone_file(tmp_path / "clean" / f"clean_fileid_{n}.wav", seconds)
        _tone_file(tmp_path / "noisy" / f"book_0001_chp_02_reader_03_snr5_fileid_{n}.wav", seconds, freq_hz=300)
    ds = PairedFolderDataset(tmp_path / "noisy", tmp_path / "clean", pair_by="fileid")
    assert len(ds) == 2
    names = sorted(ds[i]["name"] for i in range(2))
    assert names == ["book_0001_chp_02_reader_03_snr5_fileid_12", "book_0001_chp_02_reader_03_snr5_fileid_3"]
    lengths = sorted(ds[i]["clean"].shape[-1] for i in range(2))
    assert lengths == [8000, 12800]
    assert ds[0]["condition"] == tmp_path.name
    crops = PairedFolderDataset(tmp_path / "noisy", tmp_path / "clean", pair_by="fileid", segment_seconds=0.6)
    for i in range(2):
        item = crops[i]
        assert item["noisy"].shape == item["clean"].shape == (1, 9600)


def test_pairs_unpaired_and_length_errors(tmp_path):
    _tone_file(tmp_path / "clean" / "a.wav", 0.5)
    _tone_file(tmp_path / "noisy" / "a.wav", 0.5)
    _tone_file(tmp_path / "noisy" / "b.wav", 0.5)
    with pytest.raises(ValueError, match=r"unpaired files: 1 noisy file\(s\) without clean in .*clean: .*b\.wav"):
        PairedFolderDataset(tmp_path / "noisy", tmp_path / "clean")
    with pytest.raises(ValueError, match=r"noisy/a\.wav: no 'fileid_<N>' in the name"):
        PairedFolderDataset(tmp_path / "noisy", tmp_path / "clean", pair_by="fileid")
    _tone_file(tmp_path / "clean" / "b.wav", 0.9)
    with pytest.raises(ValueError, match=r"1 pair\(s\) differ in length .*b\.wav vs .*b\.wav \(6400 samples\)"):
        PairedFolderDataset(tmp_path / "noisy", tmp_path / "clean")
    sf.write(tmp_path / "clean" / "b.wav", np.zeros(8000 + 40), SR, subtype="PCM_16")
    with pytest.warns(UserWarning, match="differ by up to 40 samples"):
        ds = PairedFolderDataset(tmp_path / "noisy", tmp_path / "clean")
    assert ds[1]["noisy"].shape == ds[1]["clean"].shape == (1, 8000)


# ---------------------------------------------------------------- DataModule and configs


def test_datamodule_batches_and_epochs():
    train = SyntheticSpeechDataset(num_items=6, segment_seconds=0.5, seed=1)
    val = SyntheticSpeechDataset(num_items=2, segment_seconds=1.0, seed=2)
    dm = EnhancementDataModule(train=train, val=val, batch_size=4, seed=3)
    dm.setup("fit")
    assert dm.sample_rate == SR
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, EpochIndexSampler)
    batches = list(loader)
    assert len(batches) == 1  # 6 items, batch 4, last batch dropped
    batch = batches[0]
    assert batch["noisy"].shape == batch["clean"].shape == (4, 1, 8000)
    assert len(batch["name"]) == len(batch["condition"]) == 4
    loader.sampler.set_epoch(1)  # Lightning does this every epoch: new order and new draws
    again = next(iter(loader))
    assert not torch.equal(again["noisy"], batch["noisy"])
    val_batch = next(iter(dm.val_dataloader()))
    assert val_batch["noisy"].shape == (1, 1, 16000) and val_batch["name"] == ["synthetic_000000"]
    assert dm.test_dataloader() == []
    with pytest.raises(ValueError, match="stage 'test' needs data.test"):
        dm.setup("test")


def test_datamodule_rejects_mixed_sample_rates_and_tiny_train():
    with pytest.raises(ValueError, match="disagree on sample_rate"):
        EnhancementDataModule(SyntheticSpeechDataset(4, 0.5, sample_rate=8000), SyntheticSpeechDataset(4, 0.5))
    dm = EnhancementDataModule(SyntheticSpeechDataset(4, 0.5), batch_size=8)
    with pytest.raises(ValueError, match="train has 4 items < batch_size 8"):
        dm.setup("fit")


def _data_config(project_root, name: str, shared_dir="/nonexistent"):
    return OmegaConf.create(
        {
            "paths": {"shared_data_dir": str(shared_dir), "data_dir": "/tmp"},
            "data": OmegaConf.load(project_root / "conf" / "data" / f"{name}.yaml"),
        }
    )


def test_synthetic_config_builds_distinct_splits(project_root):
    cfg = _data_config(project_root, "synthetic")
    cfg.data.train.num_items = 8
    dm = instantiate(cfg.data)
    assert (len(dm.train), len(dm.val), len(dm.test)) == (8, 32, 32)
    assert dm.train.segment_seconds == 2.0 and dm.val.segment_seconds == 4.0
    assert len({dm.train.seed, dm.val.seed, dm.test.seed}) == 3


@pytest.mark.parametrize("name", ["folders", "pairs"])
def test_path_configs_have_mandatory_paths(project_root, name):
    cfg = _data_config(project_root, name)
    assert OmegaConf.is_missing(cfg.data.train, "noisy_dir" if name == "pairs" else "speech_dir")


@pytest.mark.shared_data
def test_mini_config_on_shared_data(project_root, shared_data):
    cfg = _data_config(project_root, "mini", shared_data)
    cfg.data.batch_size = 2
    dm = instantiate(cfg.data)
    dm.setup("fit")
    train_speakers = {p.name.split("-")[0] for p in dm.train.speech_files}
    val_speakers = {p.name.split("-")[0] for p in dm.val.speech_files}
    assert train_speakers.isdisjoint(val_speakers) and len(val_speakers) >= 20
    assert set(dm.train.noise_files).isdisjoint(dm.val.noise_files)
    batch = next(iter(dm.train_dataloader()))
    assert batch["noisy"].shape == batch["clean"].shape == (2, 1, 32000)
    assert torch.isfinite(batch["noisy"]).all()
    test_item = next(iter(dm.test_dataloader()))
    assert test_item["noisy"].shape == test_item["clean"].shape and test_item["name"] == ["p287_001"]


def test_lightning_fit_reshuffles_and_redraws_every_epoch():
    import lightning.pytorch as pl

    seen: list[tuple[int, list[str], torch.Tensor]] = []

    class Probe(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.ones(1))

        def training_step(self, batch, _):
            seen.append((self.current_epoch, list(batch["name"]), batch["noisy"].clone()))
            return ((batch["noisy"] * self.gain - batch["clean"]) ** 2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    dm = EnhancementDataModule(SyntheticSpeechDataset(4, 0.1, seed=1), batch_size=4)
    trainer = pl.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(Probe(), datamodule=dm)
    (epoch0, names0, noisy0), (epoch1, names1, noisy1) = seen
    assert (epoch0, epoch1) == (0, 1) and names0 != names1 and sorted(names0) == sorted(names1)
    first = {name: wav for name, wav in zip(names0, noisy0, strict=True)}
    assert not any(torch.equal(first[name], wav) for name, wav in zip(names1, noisy1, strict=True))
    assert trainer.train_dataloader.state_dict()["batches_done"] == 0  # epoch complete: resume skips nothing
