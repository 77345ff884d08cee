"""voipdns-enhance's file loop: batches of similar length, long files streamed, bad files skipped, progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import TINY_DEMUCS
from voipdns.chunking import resolve_device
from voipdns.enhance_files import FileJob, enhance_files, plan_batches, stream_files
from voipdns.enhancers import load_enhancer
from voipdns.models.demucs import Demucs
from voipdns.progress import AudioProgress

RATE = 16000


def job(name: str, seconds: float) -> FileJob:
    return FileJob(Path(f"{name}.wav"), Path(f"out/{name}.wav"), seconds)


def test_batches_group_similar_lengths_and_leave_long_files_to_streaming():
    jobs = [job("a", 1.0), job("b", 3.0), job("c", 1.05), job("d", 30.0), job("e", 1.02), job("f", 2.9)]
    batches, long_jobs = plan_batches(jobs, batch_size=2, chunk_seconds=20.0, max_padding=0.1)
    assert [[j.source.stem for j in batch] for batch in batches] == [["a", "e"], ["c"], ["f", "b"]]
    assert [j.source.stem for j in long_jobs] == ["d"]
    one_each, _ = plan_batches(jobs, batch_size=1, chunk_seconds=20.0, max_padding=0.1)
    assert all(len(batch) == 1 for batch in one_each)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        plan_batches(jobs, 0, 20.0, 0.1)


@pytest.fixture(scope="module")
def enhancer(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("net") / "tiny.th"
    torch.save(Demucs(**{k: v for k, v in TINY_DEMUCS.items() if k != "_target_"}).state_dict(), path)
    return load_enhancer(str(path))


def write(folder: Path, name: str, seconds: float, seed: int, rate: int = RATE) -> Path:
    audio = np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * rate)).astype(np.float32)
    sf.write(folder / name, audio, rate, subtype="FLOAT")
    return folder / name


def test_equal_length_files_run_as_one_batch_with_their_own_outputs(tmp_path, enhancer, monkeypatch):
    sources = [write(tmp_path, f"{i}.wav", 0.5, seed=i) for i in range(4)]
    calls = []
    batch_fn = enhancer.enhance_batch
    monkeypatch.setattr(enhancer, "enhance_batch", lambda clips: calls.append(len(clips)) or batch_fn(clips))
    written, failures = enhance_files(
        enhancer, {s: tmp_path / "out" / s.name for s in sources}, batch_size=8, progress=False
    )
    assert calls == [4] and not failures and len(written) == 4
    for source in sources:
        alone = enhancer.enhance(sf.read(source, dtype="float32")[0])
        out, rate = sf.read(tmp_path / "out" / source.name, dtype="float32")
        assert rate == RATE
        np.testing.assert_allclose(out, np.clip(alone, -1, 1), atol=1.5 / 32768)  # 16-bit output, no padding


def test_mixed_lengths_rates_long_and_bad_files(tmp_path, enhancer):
    sources = [
        write(tmp_path, "short.wav", 0.50, 1),
        write(tmp_path, "close.wav", 0.52, 2),
        write(tmp_path, "cd.wav", 0.5, 3, rate=44100),
        write(tmp_path, "long.wav", 1.3, 4),
    ]
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not audio")
    sources.append(tmp_path / "broken.wav")
    targets = {source: tmp_path / "out" / source.name for source in sources}
    written, failures = enhance_files(
        enhancer, targets, batch_size=4, chunk_seconds=1.0, overlap_seconds=0.25, progress=False
    )
    assert set(failures) == {tmp_path / "broken.wav"} and "broken.wav" in failures[tmp_path / "broken.wav"]
    assert sorted(path.name for path in written) == ["cd.wav", "close.wav", "long.wav", "short.wav"]
    for name, seconds in (("short.wav", 0.5), ("close.wav", 0.52), ("cd.wav", 0.5), ("long.wav", 1.3)):
        info = sf.info(tmp_path / "out" / name)
        assert info.samplerate == RATE and info.frames == round(seconds * RATE), name


def test_padding_changes_a_demucs_output_only_slightly(tmp_path, enhancer):
    """Demucs normalises by the clip's std: a clip padded by 4 % inside a batch is close to, not equal to, alone."""
    short = np.random.default_rng(5).uniform(-0.3, 0.3, 8000).astype(np.float32)
    longer = np.random.default_rng(6).uniform(-0.3, 0.3, 8320).astype(np.float32)
    padded = enhancer.enhance_batch([short, longer])[0]
    alone = enhancer.enhance(short)
    assert padded.shape == alone.shape
    relative = np.abs(padded - alone).max() / np.abs(alone).max()
    assert relative < 0.1


def test_progress_counts_files_seconds_and_real_time_factor():
    with AudioProgress(3, "test", enabled=False) as bar:
        bar.update(audio_seconds=2.0)
        bar.update(files=2, audio_seconds=1.0)
    assert bar.files == 3 and bar.audio_seconds == 3.0
    assert 0 < bar.real_time_factor < 1 and bar.summary().startswith("3 processed, 3.0 s of audio in ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is usable")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="device=cuda: torch .* sees no CUDA GPU"):
        resolve_device("cuda")


def test_streaming_mode_writes_files_and_skips_bad_ones(tmp_path, enhancer, caplog):
    from voipdns.enhancers import load_streamer

    good = write(tmp_path, "good.wav", 0.5, seed=7)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    targets = {good: tmp_path / "out" / "good.wav", tmp_path / "bad.wav": tmp_path / "out" / "bad.wav"}
    with caplog.at_level("INFO"):
        written, failures = stream_files(load_streamer(enhancer.name), targets)
    assert written == [tmp_path / "out" / "good.wav"] and set(failures) == {tmp_path / "bad.wav"}
    assert sf.info(written[0]).frames == 8000
    assert "latency" in caplog.text and "enhanced 1 file(s), 1 failed: 2 processed, 0.5 s of audio" in caplog.text
