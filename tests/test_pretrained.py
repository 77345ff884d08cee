"""Checkpoint loading: each format, written by the test in its official layout; the registry."""

from __future__ import annotations

import hashlib
import shutil
import sys
import types
import urllib.error
from pathlib import Path

import pytest
import torch
import yaml
from omegaconf import OmegaConf

from voipdns.checkpoint_formats import detect_format, infer_net_config
from voipdns.checkpoint_formats.errors import (
    CheckpointDownloadError,
    CheckpointFormatError,
    CheckpointHashError,
    CheckpointKeyError,
    CheckpointNotFoundError,
    UnknownCheckpointError,
)
from voipdns.models.demucs import Demucs
from voipdns.pretrained import list_registry, load_net, read_checkpoint, resolve_registry_entry

TINY = {"hidden": 4, "depth": 2}
TINY_CONFIG = {"_target_": "voipdns.models.demucs.Demucs", **TINY}


def outputs_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    noisy = torch.randn(1, 1, 1000)
    with torch.no_grad():
        return torch.equal(a.eval()(noisy), b.eval()(noisy))


@pytest.fixture
def tiny() -> Demucs:
    return Demucs(**TINY)


@pytest.fixture
def fake_reference_class(monkeypatch):
    """A class pickled as ``denoiser.demucs.Demucs`` without using the real package."""
    module = types.ModuleType("denoiser.demucs")
    klass = type("Demucs", (), {"__module__": "denoiser.demucs"})
    module.Demucs = klass
    monkeypatch.setitem(sys.modules, "denoiser", types.ModuleType("denoiser"))
    monkeypatch.setitem(sys.modules, "denoiser.demucs", module)
    return klass


def block_reference_import(monkeypatch):
    """From here on ``import denoiser`` raises: loading must not need the reference package."""
    monkeypatch.setitem(sys.modules, "denoiser", None)
    monkeypatch.setitem(sys.modules, "denoiser.demucs", None)


def serialized(klass, net: Demucs, state=None) -> dict:
    """The reference's ``serialize_model`` layout."""
    return {
        "class": klass,
        "args": (),
        "kwargs": dict(TINY, sample_rate=16000),
        "state": state or net.state_dict(),
    }


# --- formats ---


def test_official_state_dict_with_config_inferred_from_shapes(tmp_path, tiny):
    path = tmp_path / "dns-tiny.th"
    torch.save(tiny.state_dict(), path)
    net = load_net(path)
    assert isinstance(net, Demucs) and net.hidden == 4 and net.depth == 2 and net.causal
    assert not net.training
    assert outputs_equal(net, tiny)


def test_state_dict_with_explicit_net_config(tmp_path, tiny):
    path = tmp_path / "weights.pt"
    torch.save(tiny.state_dict(), path)
    assert outputs_equal(load_net(path, net_config=TINY_CONFIG), tiny)


def test_demucs_config_inference_on_official_layouts():
    causal = infer_net_config(Demucs().state_dict())
    assert causal["hidden"] == 48 and causal["depth"] == 5 and causal["causal"] is True
    assert causal["growth"] == 2 and causal["max_hidden"] == 10_000 and causal["glu"] is True
    noncausal = infer_net_config(Demucs(causal=False, hidden=8, max_hidden=16, depth=3).state_dict())
    assert noncausal["causal"] is False and noncausal["max_hidden"] == 16


def test_best_th_loads_without_the_reference_package(tmp_path, monkeypatch, tiny, fake_reference_class):
    path = tmp_path / "best.th"
    torch.save(serialized(fake_reference_class, tiny), path)
    block_reference_import(monkeypatch)
    net = load_net(path)
    assert isinstance(net, Demucs) and net.hidden == 4
    assert outputs_equal(net, tiny)
    assert read_checkpoint(path).format == "demucs_best"


def test_checkpoint_th_prefers_best_state(tmp_path, monkeypatch, fake_reference_class):
    last, best = Demucs(**TINY), Demucs(**TINY)
    package = {
        "model": serialized(fake_reference_class, last),
        "optimizer": {"state": {}, "param_groups": [{"lr": 3e-4}]},
        "history": [{"train": 0.1, "valid": 0.2, "best": 0.2}],
        "best_state": best.state_dict(),
        "args": OmegaConf.create({"demucs": TINY, "lr": 3e-4}),  # the reference stores its hydra config
    }
    torch.save(package, tmp_path / "checkpoint.th")
    package["best_state"] = None
    torch.save(package, tmp_path / "checkpoint_no_best.th")
    block_reference_import(monkeypatch)
    assert outputs_equal(load_net(tmp_path / "checkpoint.th"), best)
    assert outputs_equal(load_net(tmp_path / "checkpoint_no_best.th"), last)


def test_unknown_pickled_class_is_named(tmp_path, monkeypatch, tiny, fake_reference_class):
    fake_reference_class.__qualname__ = fake_reference_class.__name__ = "Demucs"
    other = type("Other", (), {"__module__": "denoiser.demucs"})
    sys.modules["denoiser.demucs"].Other = other
    torch.save(serialized(other, tiny), tmp_path / "best.th")
    with pytest.raises(CheckpointFormatError, match=r"best\.th: refused global 'denoiser\.demucs\.Other'"):
        load_net(tmp_path / "best.th")


class _RunsCodeWhenUnpickled:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.mkdir, (self.target,))


def test_pickled_code_is_never_run(tmp_path):
    target = tmp_path / "should_not_exist"
    torch.save({"payload": _RunsCodeWhenUnpickled(target)}, tmp_path / "evil.th")
    with pytest.raises(CheckpointFormatError, match=r"evil\.th: refused global 'builtins\.getattr'"):
        load_net(tmp_path / "evil.th")
    assert not target.exists()


def test_lightning_checkpoint_written_by_a_trainer(tmp_path):
    lightning = pytest.importorskip("lightning")
    from hydra.utils import instantiate

    class Task(lightning.LightningModule):
        def __init__(self, net: dict):
            super().__init__()
            self.save_hyperparameters()
            self.net = instantiate(net)
            self.loss_helper = torch.nn.Linear(2, 2)  # stands for frozen loss helpers: not net weights

        def training_step(self, batch, index):
            return self.net(batch[0]).abs().mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.net.parameters(), lr=0.01)

    task = Task(OmegaConf.create(TINY_CONFIG))  # hydra passes DictConfig; it is pickled as such
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(2, 1, 800)), batch_size=2)
    trainer = lightning.Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(task, data)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    net = load_net(tmp_path / "last.ckpt")
    assert outputs_equal(net, task.net)


def test_lightning_style_dict_without_net_weights_is_rejected(tmp_path):
    torch.save(
        {"state_dict": {"model.w": torch.zeros(1)}, "hyper_parameters": {"net": TINY_CONFIG}},
        tmp_path / "x.ckpt",
    )
    with pytest.raises(CheckpointFormatError, match=r"no 'net\.\*' weights.*\['model'\]"):
        load_net(tmp_path / "x.ckpt")


def test_format_table_recognises_each_layout(tiny, fake_reference_class):
    state = tiny.state_dict()
    best = serialized(fake_reference_class, tiny)
    assert detect_format(state, "x") == "state_dict"
    assert detect_format(best, "x") == "demucs_best"
    assert detect_format({"model": best, "best_state": state, "optimizer": {}}, "x") == "demucs_checkpoint"
    assert detect_format({"state_dict": {}, "pytorch-lightning_version": "2.6.6"}, "x") == "lightning"
    fullsubnet = {
        "module.fb_model.sequence_model.weight_ih_l0": torch.zeros(1),
        "module.sb_model.sequence_model.weight_ih_l0": torch.zeros(1),
    }  # an official FullSubNet trainer dict holds a DDP-prefixed state_dict
    assert detect_format({"epoch": 58, "model": fullsubnet}, "x") == "fullsubnet"


# --- strictness and errors ---


def test_key_mismatch_lists_every_problem(tmp_path, tiny):
    state = tiny.state_dict()
    del state["encoder.0.0.bias"]
    state["encoder.9.0.weight"] = torch.zeros(1)
    state["decoder.0.0.weight"] = torch.zeros(3, 3, 1)
    torch.save(state, tmp_path / "broken.th")
    with pytest.raises(CheckpointKeyError) as info:
        load_net(tmp_path / "broken.th", net_config=TINY_CONFIG)
    message = str(info.value)
    assert "missing (1): encoder.0.0.bias" in message
    assert "unexpected (1): encoder.9.0.weight" in message
    assert "reshaped (1): decoder.0.0.weight [3, 3, 1], expected [16, 8, 1]" in message


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="best.th does not exist"):
        load_net(tmp_path / "best.th")


def test_unrecognised_and_corrupt_files(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.th")
    with pytest.raises(CheckpointFormatError, match="unrecognised checkpoint.*known formats"):
        load_net(tmp_path / "list.th")
    (tmp_path / "junk.th").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointFormatError, match="junk.th: not a readable torch checkpoint"):
        load_net(tmp_path / "junk.th")


def test_unknown_layout_needs_a_config(tmp_path):
    torch.save({"weight": torch.zeros(2, 2)}, tmp_path / "linear.th")
    with pytest.raises(CheckpointFormatError, match="pass net_config"):
        load_net(tmp_path / "linear.th")


# --- registry ---


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def registry(tmp_path, tiny):
    """A registry with one entry whose file the test publishes under a torch.hub-style name."""
    published = tmp_path / "published.th"
    torch.save(tiny.state_dict(), published)
    prefix = sha256(published)[:16]
    entry = {
        "url": f"https://example.invalid/ckpt/tiny-{prefix}.th",
        "sha256_prefix": prefix,
        "sha256": None,
        "format": "state_dict",
        "license": "CC-BY-NC-4.0",
        "net": TINY_CONFIG,
    }
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"tiny": entry}))
    return types.SimpleNamespace(path=path, entry=entry, published=published, cache=tmp_path / "cache")


def place_in_cache(registry) -> Path:
    registry.cache.mkdir(exist_ok=True)
    cached = registry.cache / registry.entry["url"].rsplit("/", 1)[-1]
    shutil.copy(registry.published, cached)
    return cached


def test_registry_name_with_file_already_cached(registry, tiny, monkeypatch):
    place_in_cache(registry)
    monkeypatch.setattr(torch.hub, "download_url_to_file", pytest.fail)  # must not download
    net = load_net("tiny", registry_path=registry.path, cache_dir=registry.cache)
    assert outputs_equal(net, tiny)


def test_registry_download_is_cached_and_verified(registry, monkeypatch, tiny):
    calls = []

    def fake_download(url, destination, **kwargs):
        calls.append(url)
        shutil.copy(registry.published, destination)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    for _ in range(2):
        assert outputs_equal(load_net("tiny", registry_path=registry.path, cache_dir=registry.cache), tiny)
    assert calls == [registry.entry["url"]]


def test_hash_mismatch_names_expected_and_actual(registry):
    cached = place_in_cache(registry)
    cached.write_bytes(cached.read_bytes() + b"tampered")
    with pytest.raises(CheckpointHashError, match=f"expected {registry.entry['sha256_prefix']}, got [0-9a-f]{{16}}"):
        load_net("tiny", registry_path=registry.path, cache_dir=registry.cache)


def test_full_sha256_when_recorded(registry):
    place_in_cache(registry)
    registry.entry["sha256"] = "0" * 64
    registry.path.write_text(yaml.safe_dump({"tiny": registry.entry}))
    with pytest.raises(CheckpointHashError, match="expected 0{64}"):
        load_net("tiny", registry_path=registry.path, cache_dir=registry.cache)


def test_bad_download_is_not_kept(registry, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, **kw: Path(dst).write_bytes(b"html"))
    with pytest.raises(CheckpointHashError):
        load_net("tiny", registry_path=registry.path, cache_dir=registry.cache)
    assert list(registry.cache.iterdir()) == []


def test_no_network_says_where_to_put_the_file(registry, monkeypatch):
    def offline(url, destination, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected = registry.cache / registry.entry["url"].rsplit("/", 1)[-1]
    with pytest.raises(CheckpointDownloadError, match=f"put the file at {expected}"):
        load_net("tiny", registry_path=registry.path, cache_dir=registry.cache)


def test_unknown_name_lists_known_names(registry):
    with pytest.raises(UnknownCheckpointError, match=r"'dns99'.*known names: \['tiny'\]"):
        load_net("dns99", registry_path=registry.path)


def test_shipped_registry_lists_the_official_files():
    assert {"dns48", "dns64", "fullsubnet_cumulative", "master64", "gtcrn_dns3", "gtcrn_vctk"} <= set(list_registry())
    fullsubnet = resolve_registry_entry("fullsubnet_cumulative")
    assert fullsubnet.format == "fullsubnet" and len(fullsubnet.sha256) == 64
    assert fullsubnet.net["fb_norm"] == fullsubnet.net["sb_norm"] == "cumulative_laplace"
    for name, hidden in (("dns48", 48), ("dns64", 64), ("master64", 64)):
        entry = resolve_registry_entry(name)
        assert entry.url == f"https://dl.fbaipublicfiles.com/adiyoss/denoiser/{name}-{entry.sha256_prefix}.th"
        assert entry.format == "state_dict" and entry.license == "CC-BY-NC-4.0"
        assert entry.net["_target_"] == "voipdns.models.demucs.Demucs"
        assert entry.net["hidden"] == hidden and entry.net["causal"] is True


def test_best_th_written_by_the_reference_serializer(tmp_path):
    reference = pytest.importorskip("denoiser.demucs", reason="reference package `denoiser` not installed")
    utils = pytest.importorskip("denoiser.utils")
    model = reference.Demucs(hidden=4, depth=2, causal=False, sample_rate=16000)
    torch.save(utils.serialize_model(model), tmp_path / "best.th")
    net = load_net(tmp_path / "best.th")
    assert isinstance(net, Demucs) and net.causal is False
    noisy = torch.randn(1, 1, 1000)
    with torch.no_grad():
        assert (net(noisy) - model.eval()(noisy)).abs().max().item() < 1e-5
