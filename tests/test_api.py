"""The Python API: ``net.enhance`` on numpy/torch audio of any layout and rate, ``voipdns.enhance_file``, and the
README's Python example executed as written (with the shipped voipdns-gtcrn)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import voipdns
from conftest import PROJECT_ROOT, TINY_DEMUCS
from voipdns.audio import resample
from voipdns.models.demucs import Demucs
from voipdns.pretrained import load_net

SAMPLES = 4000  # 0.25 s at 16 kHz


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny Demucs as an official-layout state_dict (load_net infers its config from the shapes)."""
    torch.manual_seed(0)
    config = {key: value for key, value in TINY_DEMUCS.items() if key != "_target_"}
    path = tmp_path_factory.mktemp("api") / "tiny_demucs.th"
    torch.save(Demucs(**config).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def net(checkpoint):
    return load_net(checkpoint)


def direct(net, wav: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(wav)


def test_numpy_1d_at_the_nets_rate(net):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, SAMPLES).astype(np.float32)
    out = net.enhance(audio)
    assert isinstance(out, np.ndarray) and out.shape == audio.shape and out.dtype == np.float32
    expected = direct(net, torch.from_numpy(audio).view(1, 1, -1)).view(-1).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_torch_batch_keeps_shape_dtype_and_matches_forward(net):
    audio = torch.rand(3, 1, SAMPLES) - 0.5
    out = net.enhance(audio)
    assert isinstance(out, torch.Tensor) and out.shape == audio.shape
    torch.testing.assert_close(out, direct(net, audio), atol=1e-6, rtol=0)


def test_channels_are_enhanced_one_by_one(net):
    audio = torch.rand(2, SAMPLES, dtype=torch.float64) - 0.5
    out = net.enhance(audio)
    assert out.shape == (2, SAMPLES) and out.dtype == torch.float64
    second = direct(net, audio[1:].float().view(1, 1, -1)).view(-1).double()
    torch.testing.assert_close(out[1], second, atol=1e-6, rtol=0)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_other_rates_are_resampled_in_and_back_out(net, rate):
    length = int(0.3 * rate)
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (2, length)).astype(np.float32)
    out = net.enhance(audio, sample_rate=rate)
    assert out.shape == (2, length) and out.dtype == np.float32
    at_16k = resample(torch.from_numpy(audio).unsqueeze(1), rate, 16000)
    back = resample(direct(net, at_16k), 16000, rate)[..., :length].squeeze(1).numpy()
    common = min(back.shape[-1], length)
    np.testing.assert_allclose(out[:, :common], back[:, :common], atol=1e-5)


def test_bad_input_says_what_was_wrong(net):
    with pytest.raises(ValueError, match=r"\[T\], \[C, T\] or \[B, 1, T\]; got \(2, 2, 100\)"):
        net.enhance(np.zeros((2, 2, 100), dtype=np.float32))
    with pytest.raises(TypeError, match="int16.*32768"):
        net.enhance(np.zeros(100, dtype=np.int16))
    with pytest.raises(TypeError, match="numpy array or a torch tensor, got list"):
        net.enhance([0.0] * 100)
    with pytest.raises(ValueError, match="0 samples"):
        net.enhance(np.zeros(0, dtype=np.float32))


def test_enhance_file_writes_the_enhanced_wav(tmp_path, checkpoint, net):
    audio = np.random.default_rng(2).uniform(-0.3, 0.3, SAMPLES).astype(np.float32)
    sf.write(tmp_path / "call.wav", audio, 16000, subtype="FLOAT")
    written = voipdns.enhance_file(tmp_path / "call.wav", checkpoint=checkpoint)
    assert written == tmp_path / "call_enhanced.wav"
    out, rate = sf.read(written, dtype="float32")
    assert rate == 16000 and out.shape == audio.shape
    np.testing.assert_allclose(out, net.enhance(audio), atol=2 / 32768)  # 16-bit output
    with pytest.raises(ValueError, match="overwrite its input"):
        voipdns.enhance_file(tmp_path / "call.wav", checkpoint=checkpoint, output=tmp_path / "call.wav")
    with pytest.raises(FileNotFoundError, match="missing.wav does not exist"):
        voipdns.enhance_file(tmp_path / "missing.wav", checkpoint=checkpoint)


def readme_python_example() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    blocks = [block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "enhance_file" in block]
    assert len(blocks) == 1, "README should hold one Python example using voipdns.enhance_file"
    return blocks[0]


def test_readme_python_example_runs(tmp_path, monkeypatch):
    stereo = np.random.default_rng(3).uniform(-0.3, 0.3, (44100, 2)).astype(np.float32)
    sf.write(tmp_path / "call.wav", stereo, 44100)
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_python_example(), "README.md", "exec"), {})
    enhanced_16k, rate_16k = sf.read("call_enhanced.wav")
    assert rate_16k == 16000 and len(enhanced_16k) == 16000
    enhanced_44k, rate_44k = sf.read("call_enhanced_44k.wav")
    assert rate_44k == 44100 and enhanced_44k.shape == stereo.shape


def test_import_voipdns_stays_light():
    code = "import sys, voipdns; print('torch' in sys.modules, callable(voipdns.enhance_file))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "True"], done.stderr[-2000:]
