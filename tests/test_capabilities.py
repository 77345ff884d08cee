"""Every net of conf/net/ is trainable, exportable and, when causal, streamable through the capability tables.

The tables are ``voipdns.streaming.factory.STREAMERS`` and ``voipdns.export.adapters.EXPORT_GRAPHS`` (plus the
checkpoint formats in ``voipdns.checkpoint_formats``). A new model that misses an entry fails here by name.
"""

from __future__ import annotations

import hydra
import numpy as np
import pytest
import torch

from hydra_helpers import compose_config, group_options
from voipdns.export.adapters import EXPORT_GRAPHS, GRAPH_KINDS, graph_kind_for, graph_spec
from voipdns.streaming.factory import STREAMERS, NotStreamableError, streamer_for

NETS = group_options("net")

#: causal nets without a streamer yet: each must still be refused by name (remove it here when one is added)
CAUSAL_WITHOUT_STREAMER = {
    "unet": "MaskUNet runs whole clips; its causal padding is ready for a streamer",
    "dsp_denoiser": "the running-mean controller is causal; no frame-by-frame streamer is written yet",
}

SECONDS = 0.5


def build(name: str, tmp_path):
    """The net and its base loss (the one ``voipdns-train net=<name>`` uses), small settings where they cost."""
    cfg = compose_config("train", [f"net={name}"], tmp_path)
    return hydra.utils.instantiate(cfg.net), hydra.utils.instantiate(cfg.loss)


def batch_for(net, samples: int) -> dict:
    """noisy/clean plus the extras a personalised net reads (speaker embedding, per-frame VAD and q flags)."""
    generator = torch.Generator().manual_seed(0)
    clean = 0.1 * torch.randn(1, 1, samples, generator=generator)
    batch = {"noisy": clean + 0.05 * torch.randn(1, 1, samples, generator=generator), "clean": clean}
    embedding_dim = int(getattr(net, "embedding_dim", 0) or 0)
    if embedding_dim:
        frames = net.num_frames(samples)
        batch.update(
            embedding=torch.randn(1, embedding_dim, generator=generator),
            vad=torch.ones(1, frames),
            q=torch.ones(1, frames),
        )
    return batch


def test_every_net_config_is_listed():
    assert {"demucs", "fullsubnet", "percepnet", "unet", "dsp_denoiser"} <= set(NETS)
    assert "ecapa" not in NETS  # the speaker embedder is no enhancer: conf/embedder/


@pytest.mark.parametrize("name", NETS)
def test_net_trains_with_its_base_loss(name, tmp_path):
    net, loss = build(name, tmp_path)
    net.train()
    batch = batch_for(net, int(SECONDS * net.sample_rate))
    values = loss(net.training_outputs(batch), batch)
    assert torch.isfinite(values["loss"]), f"{name}: loss {values['loss']}"
    values["loss"].backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), f"{name}: no gradient reaches the net"


@pytest.mark.parametrize("name", NETS)
def test_net_is_exportable_through_the_table(name, tmp_path):
    net, _ = build(name, tmp_path)
    kind = graph_kind_for(net.eval())
    assert GRAPH_KINDS[kind.name] is kind, f"{name}: graph kind {kind.name} is not in GRAPH_KINDS"
    spec = graph_spec(net, seconds=SECONDS)
    assert spec.graph == kind.name and spec.inputs and spec.output_names
    assert set(spec.dynamic_axes) <= {*spec.input_names, *spec.output_names}


@pytest.mark.parametrize("name", NETS)
def test_causal_net_is_streamable_through_the_table(name, tmp_path):
    net, _ = build(name, tmp_path)
    net.eval()
    if not net.causal:
        with pytest.raises(ValueError):  # NotStreamableError, or the streamer's own "needs the causal variant"
            streamer_for(net)
        return
    if name in CAUSAL_WITHOUT_STREAMER:
        with pytest.raises(NotStreamableError, match=f"no streamer for {type(net).__name__}"):
            streamer_for(net)
        return
    streamer = streamer_for(net)
    if getattr(net, "embedding_dim", 0):  # personalised: stream for an enrolled speaker
        streamer.set_speaker_embedding(np.ones(net.embedding_dim, dtype=np.float32))
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(SECONDS * net.sample_rate))).astype(np.float32)
    out = streamer.process(audio)
    assert out.shape == audio.shape and np.isfinite(out).all()


def test_tables_hold_classes_and_subclasses_find_their_base():
    from voipdns.class_table import entry_for
    from voipdns.models.percepnet import PercepNet, UnifiedPercepNet

    assert all(isinstance(cls, type) for cls in (*STREAMERS, *EXPORT_GRAPHS))
    net = UnifiedPercepNet.__new__(UnifiedPercepNet)  # no weights needed to look up a class
    assert entry_for(STREAMERS, net) is STREAMERS[PercepNet]
    assert entry_for(EXPORT_GRAPHS, net) is EXPORT_GRAPHS[PercepNet]
    assert entry_for(STREAMERS, object()) is None
