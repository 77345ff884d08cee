"""Resampling, mel filterbanks and SI-SDR each have one implementation that every caller shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voipdns import audio, resampler
from voipdns.dsp.mel import mel_filterbank
from voipdns.losses.sisnr import si_snr_db
from voipdns.metrics import dnsmos
from voipdns.metrics.intrusive import si_sdr
from voipdns.speaker.fbank import LogMelFbank


def signals(seed: int = 0, samples: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    clean = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return clean, clean + 0.05 * rng.standard_normal(samples)


def test_si_sdr_metric_equals_the_loss_formula():
    clean, noisy = signals()
    metric = si_sdr(clean, noisy)
    loss_db = si_snr_db(torch.from_numpy(noisy), torch.from_numpy(clean), eps=1e-12).item()
    assert 10.0 < metric < 40.0
    assert metric == pytest.approx(loss_db, abs=1e-6)


def test_resampling_is_one_function_for_numpy_and_torch():
    assert audio.resample is resampler.resample
    _, noisy = signals(samples=16000)
    as_numpy = resampler.resample(noisy.astype(np.float32), 16000, 8000)
    as_torch = resampler.resample(torch.from_numpy(noisy.astype(np.float32))[None], 16000, 8000)
    assert isinstance(as_numpy, np.ndarray) and as_numpy.shape == (8000,) and as_numpy.dtype == np.float32
    assert isinstance(as_torch, torch.Tensor) and as_torch.shape == (1, 8000)
    np.testing.assert_array_equal(as_torch[0].numpy(), as_numpy)


def test_dnsmos_and_the_speaker_fbank_use_the_one_mel_filterbank():
    assert dnsmos.mel_filterbank is mel_filterbank
    fbank = LogMelFbank(n_mels=40)
    expected = mel_filterbank(16000, fbank.n_fft, 40, 0.0, 8000.0, scale="htk", area_norm=False)
    np.testing.assert_array_equal(fbank.filters.numpy(), expected)
    assert float(expected.max()) == pytest.approx(1.0, abs=0.05)  # HTK filters peak at 1
    slaney = mel_filterbank(16000, 1024, 20)  # wide filters: the bin sum approximates the area
    assert np.allclose(slaney.sum(axis=1) * 16000 / 1024, 1.0, rtol=0.05)  # Slaney norm: unit area
