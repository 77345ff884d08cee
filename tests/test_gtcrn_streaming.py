"""Streaming GTCRN: frame by frame equals the offline net (1e-5), 512 samples of latency, through the table."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from voipdns.models.gtcrn import GTCRN
from voipdns.pretrained import load_net
from voipdns.streaming import streamer_for
from voipdns.streaming.gtcrn import GTCRNStreamCore, GTCRNStreamer


def random_gtcrn() -> GTCRN:
    """Random weights and non-trivial BatchNorm statistics (a fresh net's are 0 / 1)."""
    torch.manual_seed(0)
    net = GTCRN()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return net.eval()


def speechlike(samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    envelope = 0.02 + 0.1 * np.abs(np.sin(2 * np.pi * 2.5 * t))
    return (envelope * (rng.standard_normal(samples) + 2 * np.sin(2 * np.pi * 160 * t))).astype(np.float32)


def offline(net: GTCRN, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x).view(1, 1, -1)).view(-1).numpy()


@pytest.fixture(scope="module")
def net() -> GTCRN:
    return random_gtcrn()


# lengths: whole hops, a ragged end, shorter than the net's minimum (257 samples: zero-padded like forward)
@pytest.mark.parametrize(("samples", "chunk"), [(8192, 256), (7001, 999), (300, 37), (100, 100)])
def test_stream_equals_offline_including_the_end(net, samples, chunk):
    x = speechlike(samples, seed=samples)
    expected = offline(net, x)
    out = GTCRNStreamer(net).process(x, chunk)
    assert out.shape == x.shape
    assert np.abs(expected).max() > 1e-2  # the comparison is not between near-zero signals
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_latency_is_one_window_and_output_stays_aligned(net):
    streamer = streamer_for(net)
    assert isinstance(streamer, GTCRNStreamer)
    assert (streamer.latency_samples, streamer.hop_samples, streamer.latency_ms) == (512, 256, 32.0)
    streamer.reset()
    assert streamer.feed(np.zeros(511, np.float32)).size == 0
    assert streamer.feed(np.zeros(1, np.float32)).size == 256
    assert streamer.feed(np.zeros(256, np.float32)).size == 256
    assert streamer.flush().size == 768 - 512  # feed + flush: exactly as many samples as came in


def test_reset_starts_a_new_stream(net):
    streamer = GTCRNStreamer(net)
    x = speechlike(3000, seed=5)
    first = streamer.process(x)
    streamer.process(speechlike(2000, seed=6))  # leaves state behind
    np.testing.assert_array_equal(streamer.process(x), first)


def test_core_state_is_named_and_carried():
    core = GTCRNStreamCore(GTCRN())
    # six grouped temporal conv blocks (history + TRA GRU each) and two dual-path RNNs
    assert len(core.state_names) == 14 == len(core.initial_state(1))
    assert core.state_names[:2] == ("gtconv0_history", "gtconv0_gru")
    assert core.state_names[-2:] == ("dpgrnn1", "dpgrnn2")
    spectrum = torch.randn(2, 257, 1, 2)
    with torch.no_grad():
        enhanced, *states = core(spectrum, *core.initial_state(2))
    assert enhanced.shape == spectrum.shape
    axes = core.state_batch_axes()
    for name, before, after in zip(core.state_names, core.initial_state(2), states, strict=True):
        assert after.shape == before.shape, name
        assert after.shape[axes[name]] in (2, 2 * 33), name  # batch (times the 33 bands for the RNNs)
    assert any(float(state.abs().max()) > 0 for state in states)


def test_official_weights_stream_equals_offline(gtcrn_pretrained):
    net = load_net(gtcrn_pretrained / "model_trained_on_dns3.tar").eval()
    mix, rate = sf.read(gtcrn_pretrained / "parity" / "mix.wav", dtype="float32")
    assert rate == 16000
    x = mix[: 2 * rate + 77]
    out = streamer_for(net).process(x, 160)  # 10 ms chunks against the 16 ms hop
    np.testing.assert_allclose(out, offline(net, x), atol=1e-5)
