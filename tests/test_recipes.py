"""Recipe smoke tests: each recipe's experiment composed with tiny data, one fast_dev_run batch through
train(cfg); init_from loading; sweep, launcher and precision configs; DDP and resume behaviour (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from hydra_helpers import compose_config
from voipdns.audio import save_audio
from voipdns.checkpoint_formats.errors import CheckpointKeyError
from voipdns.cli.train import train
from voipdns.config import CONFIG_DIR, PROJECT_ROOT
from voipdns.data.speech_synth import synthesize_speech
from voipdns.models.demucs import Demucs
from voipdns.models.fullsubnet import FullSubNet
from voipdns.reports.sweep import aggregate
from voipdns.tap.estimator import TAPEstimator, save_estimator
from voipdns.tasks.init_weights import init_from_pretrained, load_initial_weights, save_official
from voipdns.voip.corpus import simulate

SR = 16000
RECIPES = PROJECT_ROOT / "recipes"
QUIET = [
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
    "callbacks.metrics.num_workers=0",
]
TINY_DEMUCS = {"hidden": 4, "depth": 3, "resample": 2}
TINY_FULLSUBNET = {"fb_hidden_size": 8, "sb_hidden_size": 8, "num_layers": 1}
LOW = ["gm_cloud_low", "gm_phone_low", "zm_cloud_low", "zm_phone_low"]


def _speech(seconds: float, seed: int) -> np.ndarray:
    return (0.3 * synthesize_speech(np.random.default_rng(seed), int(seconds * SR), SR)).astype(np.float32)


def _write(path: Path, wav: np.ndarray) -> Path:
    save_audio(path, wav[None] if wav.ndim == 1 else wav, SR)
    return path


def _noise(folder: Path, count: int = 2) -> Path:
    rng = np.random.default_rng(7)
    for k in range(count):
        _write(folder / f"noise_{k}.wav", (0.05 * rng.standard_normal(2 * SR)).astype(np.float32))
    return folder


def _overrides(prefix: str, values: dict) -> list[str]:
    return [f"{prefix}.{key}={value}" for key, value in values.items()]


def _recipe_config(recipe: str, overrides: list[str], out: Path):
    searchpath = f"hydra.searchpath=[file://{RECIPES / recipe / 'conf'}]"
    return compose_config("train", [searchpath, *overrides], out)


# --- shared tiny fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tap_estimator_file(tmp_path_factory) -> str:
    """A randomly initialised TAP estimator in the project's file format (the real one takes 30 min)."""
    estimator = TAPEstimator()
    names = [f"lld{i}" for i in range(25)]
    estimator.set_statistics(names, torch.zeros(25), torch.ones(25))
    return str(save_estimator(estimator, tmp_path_factory.mktemp("tap") / "estimator.pt"))


@pytest.fixture(scope="module")
def voipdns_tree(tmp_path_factory) -> Path:
    """A VoIP-DNS tree written by voipdns-simulate: 5 train and 2 test clips through the 4 "low" relays."""
    base = tmp_path_factory.mktemp("voipdns")
    clean, noise = base / "clean", _noise(base / "noise")
    for i in range(7):
        _write(clean / ("train" if i < 5 else "test") / f"spk{i}-1-{i}.wav", _speech(1.5, i))
    for split in ("train", "test"):
        cfg = compose_config(
            "simulate",
            [
                f"dataset_dir={base / 'tree'}",
                f"split={split}",
                f"source.clean_dir={clean / split}",
                f"source.noise_dir={noise}",
                f"conditions=[{','.join(LOW)}]",
                "normalised=false",
                "workers=1",
            ],
            base / f"run_{split}",
        )
        simulate(cfg)
    return base / "tree"


# --- init_from -----------------------------------------------------------------------------------------
def test_init_weights_loads_official_state_dict_strictly_and_names_mismatches(tmp_path):
    source = Demucs(**TINY_DEMUCS)
    path = save_official(source, tmp_path / "official.th")
    assert set(torch.load(path, weights_only=True)) == set(source.state_dict())  # a plain state_dict
    target = Demucs(**TINY_DEMUCS)
    config = {"_target_": "voipdns.models.demucs.Demucs", **TINY_DEMUCS}
    assert load_initial_weights(target, str(path), config) == len(source.state_dict())
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0, msg=key)

    wider = {**config, "hidden": 6}
    with pytest.raises(CheckpointKeyError, match=r"model.init_from=.*official.th.*reshaped"):
        load_initial_weights(Demucs(**{**TINY_DEMUCS, "hidden": 6}), str(path), wider)


def test_init_weights_fullsubnet_trainer_dict_round_trip(tmp_path):
    source = FullSubNet(**TINY_FULLSUBNET)
    path = save_official(source, tmp_path / "fullsubnet.tar")
    assert {"epoch", "best_score", "optimizer", "scaler", "model"} <= set(torch.load(path, weights_only=True))
    target = FullSubNet(**TINY_FULLSUBNET)
    load_initial_weights(target, str(path), {"_target_": "voipdns.models.fullsubnet.FullSubNet", **TINY_FULLSUBNET})
    torch.testing.assert_close(target.state_dict(), source.state_dict())


def test_init_from_loads_when_a_fit_starts_only(tmp_path):
    source = Demucs(**TINY_DEMUCS)
    path = str(save_official(source, tmp_path / "official.th"))
    config = {"_target_": "voipdns.models.demucs.Demucs", **TINY_DEMUCS}

    def task(init_from):
        return SimpleNamespace(hparams={"init_from": init_from, "net": config}, net=Demucs(**TINY_DEMUCS))

    fitting, testing, plain = task(path), task(path), task(None)
    assert init_from_pretrained(fitting, "fit") is True
    torch.testing.assert_close(fitting.net.state_dict(), source.state_dict())
    assert init_from_pretrained(testing, "test") is False and init_from_pretrained(plain, "fit") is False
    assert not torch.equal(testing.net.encoder[0][0].weight, source.encoder[0][0].weight)


# --- recipe smoke tests (debug=fdr: one train/val/test batch) -----------------------------------------
def _check_trained(metrics: dict, *keys: str) -> None:
    for key in ("train/loss", "val/loss", *keys):
        assert key in metrics and np.isfinite(metrics[key]), key


def test_recipe_voipdns_demucs_tap(voipdns_tree, tap_estimator_file, tmp_path):
    init = save_official(Demucs(**TINY_DEMUCS), tmp_path / "standin.th")
    cfg = _recipe_config(
        "voipdns/demucs",
        [
            "experiment=voipdns_demucs_tap_cpu",
            "debug=fdr",
            f"data.train.root={voipdns_tree}",
            f"model.init_from={init}",
            f"loss.terms.tap.estimator_path={tap_estimator_file}",
            *_overrides("net", TINY_DEMUCS),
            "data.train.segment_seconds=0.5",
            "data.train.val_fraction=0.4",
            "trainer.accumulate_grad_batches=2",
            *QUIET,
        ],
        tmp_path / "run",
    )
    assert cfg.trainer.gradient_clip_val == 0.01 and cfg.loss.weights == {"l1": 1.0, "stft": 0.3, "tap": 1.0}
    metrics = train(cfg)
    _check_trained(metrics, "train/loss_tap", "test/pesq_wb")


def test_recipe_voipdns_fullsubnet_tap(voipdns_tree, tap_estimator_file, tmp_path):
    init = save_official(FullSubNet(**TINY_FULLSUBNET), tmp_path / "standin.tar")
    cfg = _recipe_config(
        "voipdns/fullsubnet",
        [
            "experiment=voipdns_fullsubnet_tap_cpu",
            "debug=fdr",
            f"data.train.root={voipdns_tree}",
            f"model.init_from={init}",
            f"loss.terms.tap.estimator_path={tap_estimator_file}",
            *_overrides("net", TINY_FULLSUBNET),
            "data.train.segment_seconds=0.512",
            "data.train.val_fraction=0.4",
            *QUIET,
        ],
        tmp_path / "run",
    )
    assert cfg.optim.lr == 8e-5 and cfg.net.use_drop_band is False and cfg.loss.weights.tap == 0.3
    _check_trained(train(cfg), "train/loss_tap", "test/stoi")


def test_recipe_dns2020_from_scratch_in_bf16(tmp_path):
    clean, noise, test = tmp_path / "clean", _noise(tmp_path / "noise"), tmp_path / "test_set"
    for reader in range(4):
        _write(clean / f"book_{reader:05d}_chp_0001_reader_{reader:05d}_0.wav", _speech(1.5, reader))
    for fileid in (1, 2):
        wav = _speech(1.0, 10 + fileid)
        folder = test / "synthetic" / "no_reverb"
        _write(folder / "clean" / f"clean_fileid_{fileid}.wav", wav)
        _write(folder / "noisy" / f"book_x_snr5_fileid_{fileid}.wav", wav + 0.05 * _speech(1.0, 20 + fileid))
    cfg = compose_config(
        "train",
        [
            "experiment=dns2020_demucs",
            "debug=fdr",
            "trainer=amp_bf16",
            "trainer.accelerator=cpu",
            f"data.train.clean_dir={clean}",
            f"data.train.noise_dir={noise}",
            f"data.test.root={test}",
            "data.test.subsets=[no_reverb]",
            "data.train.val_fraction=0.25",
            "data.train.segment_seconds=0.5",
            "data.val.segment_seconds=1.0",
            "data.val.num_items=2",
            "data.batch_size=2",
            "data.num_workers=0",
            *_overrides("net", TINY_DEMUCS),
            *QUIET,
        ],
        tmp_path / "run",
    )
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.max_epochs == 1  # fdr overrides 250 epochs
    _check_trained(train(cfg), "test/pesq_wb")


def test_recipe_dns4_upn_with_speaker_embedder_cache(tmp_path):
    from voipdns.cli.train_speaker import run as train_speaker
    from voipdns.speaker.checkpoint import save_embedder
    from voipdns.speaker.ecapa import EcapaTdnn

    clean, enrol, noise = tmp_path / "clean", tmp_path / "enrol", _noise(tmp_path / "noise")
    for i in range(6):
        _write(clean / "english" / f"reader{i}.wav", _speech(2.0, i))
        _write(enrol / "english" / f"enrol_reader{i}.wav", _speech(1.0, 100 + i))
    ecapa = {
        "_target_": "voipdns.speaker.ecapa.EcapaTdnn",
        "channels": [16, 16, 16, 16, 48],
        "attention_channels": 8,
        "se_channels": 8,
        "res2net_scale": 2,
    }
    embedder = save_embedder(
        tmp_path / "embedder.pt", EcapaTdnn(**{k: v for k, v in ecapa.items() if k != "_target_"}), ecapa
    )
    speaker_cfg = compose_config(
        "speaker_embedder",
        [
            "train=false",
            f"embedder_path={embedder}",
            f"embed.enrollment_dir={enrol}",
            f"embed.cache_dir={tmp_path / 'cache'}",
            f"embed.noise_dir={noise}",
            "embed.n_variants=2",
        ],
        tmp_path / "speaker_run",
    )
    embedding_dir = train_speaker(speaker_cfg)["embedding_dir"]
    assert len(list(Path(embedding_dir).glob("reader*.pt"))) == 6

    cfg = compose_config(
        "train",
        [
            "experiment=dns4_upn",
            "debug=fdr",
            f"data.train.clean_dir={clean}",
            f"data.train.enrollment_dir={enrol}",
            f"data.train.noise_dir={noise}",
            f"data.train.embedding_dir={embedding_dir}",
            "data.train.val_fraction=0.34",
            "data.train.segment_seconds=1.0",
            "data.val.segment_seconds=1.0",
            "data.val.num_items=2",
            "data.batch_size=2",
            "data.num_workers=0",
            "loss.shared.mu=0.7",
            "net.gru_sizes=[16]",
            "net.conv_channels=16",
            "net.fc_size=16",
            "net.strength_gru_size=8",
            *QUIET,
        ],
        tmp_path / "run",
    )
    assert cfg.loss.terms.strength.mu == 0.7 and cfg.loss.terms.gain.mu == 0.7  # one mu for both terms
    metrics = train(cfg)
    _check_trained(metrics, "train/loss_vad", "test/pesq_wb")


def test_recipe_mini_voip(shared_data, tmp_path):
    cfg = compose_config(
        "train",
        [
            "experiment=mini_voip",
            "debug=fdr",
            "mini_source.train.num_items=8",
            "mini_source.train.segment_seconds=0.5",
            "mini_source.val.num_items=2",
            "mini_source.val.segment_seconds=1.0",
            "data.batch_size=2",
            "data.num_workers=0",
            *_overrides("net", TINY_DEMUCS),
            *QUIET,
        ],
        tmp_path / "run",
    )
    metrics = train(cfg)
    _check_trained(metrics, "test/pesq_wb", "test/input_pesq_wb")


def _fake_shared_data(root: Path) -> Path:
    """The ../shared/data layout voip_relays reads, with 20 tiny LibriSpeech-named speakers and 10 noise files."""
    rng = np.random.default_rng(0)
    speech = root / "speech" / "librispeech-train-clean-100"
    for speaker in range(20):
        clip = synthesize_speech(rng, 24000, 16000).astype(np.float32)
        save_audio(speech / f"{100 + speaker}-1-0000.wav", torch.from_numpy(clip)[None], 16000)
    for folder in ("household", "moodist"):
        for index in range(5):
            noise = torch.from_numpy(rng.standard_normal(16000).astype(np.float32) * 0.1)[None]
            save_audio(root / "noise" / folder / f"{folder}_{index}.wav", noise, 16000)
    for name in ("p287_001", "p287_002"):
        clip = torch.from_numpy(synthesize_speech(rng, 16000, 16000).astype(np.float32))[None]
        save_audio(root / "pairs" / "voicebank-demand-debug" / "clean" / f"{name}.wav", clip, 16000)
        save_audio(root / "pairs" / "voicebank-demand-debug" / "noisy" / f"{name}.wav", clip + 0.05, 16000)
    return root


def test_recipe_voipdns_gtcrn_from_the_shipped_model(tmp_path):
    """One fast_dev_run of the GTCRN recipe's experiment on tiny data, starting from the shipped voipdns-gtcrn."""
    cfg = compose_config(
        "train",
        [
            "experiment=voipdns_gtcrn",
            "debug=fdr",
            "model.init_from=voipdns-gtcrn",
            f"paths.shared_data_dir={_fake_shared_data(tmp_path / 'shared')}",
            "data.train.dataset.segment_seconds=0.5",
            "data.val.dataset.num_items=2",
            "data.val.dataset.segment_seconds=0.5",
            "data.test.datasets.0.segment_seconds=0.5",
            "data.batch_size=2",
            "data.num_workers=0",
            *QUIET,
        ],
        tmp_path / "run",
    )
    assert cfg.loss.terms.keys() == {"spectrum", "sisnr"} and cfg.trainer.max_time == "00:01:00:00"
    metrics = train(cfg)
    _check_trained(metrics, "train/loss_spectrum", "test/pesq_wb", "test/input_pesq_wb")


def test_recipe_scripts_are_only_overrides():
    """Recipes hold run.sh, README.md and experiment yaml files, never Python."""
    for recipe in (
        "voipdns/gtcrn",
        "voipdns/demucs",
        "voipdns/fullsubnet",
        "dns2020",
        "dns4_personalized",
        "mini",
        "ablations",
        "speaker_embedder",
    ):
        folder = RECIPES / recipe
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert (folder / "run.sh").is_file() and (folder / "README.md").is_file(), recipe
        assert os.access(folder / "run.sh", os.X_OK), recipe
        assert not [p for p in files if p.suffix not in {".sh", ".md", ".yaml"}], recipe
        assert "|" in (folder / "README.md").read_text(), f"{recipe}: README needs a results table"


# --- sweeps, launcher, loggers -------------------------------------------------------------------------
def _compose_with_hydra(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize(
    ("search", "experiment", "key", "values"),
    [
        ("lr", "voipdns_demucs_tap", "optim.lr", "1.0e-5,3.0e-5,1.0e-4"),
        ("mu", "dns4_upn", "loss.shared.mu", "0.5,0.7,0.9"),
        ("gtcrn_lr", "voipdns_gtcrn", "optim.lr", "5.0e-5,1.0e-4,2.0e-4"),
        ("gtcrn_mu", "voipdns_gtcrn", "loss.shared.mu", "0.5,0.75,0.9"),
    ],
)
def test_hparams_search_configs_are_multiruns(search, experiment, key, values):
    cfg = _compose_with_hydra([f"+hparams_search={search}", f"experiment={experiment}"])
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.hydra.sweeper.params[key] == values


def test_slurm_launcher_follows_trainer_nodes_and_devices():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    cfg = _compose_with_hydra(
        [
            "+launcher=slurm",
            "trainer=ddp_multinode",
            "trainer.num_nodes=3",
            "trainer.devices=2",
            "+slurm.partition=gpu",
        ]
    )
    launcher = cfg.hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (3, 2, 2)
    assert launcher.partition == "gpu" and launcher._target_.endswith("SlurmLauncher")


def test_wandb_run_id_follows_the_run_folder(tmp_path):
    ids = [
        compose_config("train", ["logger=wandb"], folder).logger.wandb.id
        for folder in (tmp_path / "a", tmp_path / "a", tmp_path / "b")
    ]
    assert ids[0] == ids[1] != ids[2]  # a resumed run (same folder) continues the same W&B run


# --- slow: real processes ------------------------------------------------------------------------------
TINY_CLI = [
    "net.hidden=4",
    "net.depth=3",
    "net.resample=2",
    "data.train.num_items=8",
    "data.train.segment_seconds=0.5",
    "data.val.num_items=2",
    "data.val.segment_seconds=1.0",
    "data.test.num_items=2",
    "data.test.segment_seconds=1.0",
    "data.batch_size=4",
    "data.num_workers=0",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
    "callbacks.metrics=null",
    "trainer.num_sanity_val_steps=0",
    "trainer.max_epochs=1",
    "logger=csv",
]


def _train_cli(*overrides: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    flags = [o for o in overrides if o.startswith("-")]  # Hydra's argparse wants -m before the overrides
    others = [o for o in overrides if not o.startswith("-")]
    command = [sys.executable, "-m", "voipdns.cli.train", *flags, *TINY_CLI, *others]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=PROJECT_ROOT)


class RankProbe(L.Callback):
    """Loaded by every DDP rank: writes rank<N>.txt (its lr and run folder) into the run folder."""

    def __init__(self, **_):
        pass

    def on_train_start(self, trainer, pl_module):
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        folder = Path(trainer.default_root_dir)
        (folder / f"rank{trainer.global_rank}.txt").write_text(f"{lr} {folder}")


@pytest.mark.slow
def test_lr_sweep_multirun_aggregates_into_one_table(tmp_path):
    result = _train_cli(
        "+hparams_search=lr",
        "optim.lr=1e-3,1e-4",
        "test=false",
        f"paths.log_dir={tmp_path}",
        "run_name=lr",
        "hydra.sweep.subdir=${hydra.job.num}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs, _, swept = aggregate(tmp_path / "train" / "multiruns" / "lr")
    assert swept == ["optim.lr"] and sorted(runs["optim.lr"]) == ["0.0001", "0.001"]
    assert runs["val/loss"].notna().all() and set(runs["status"]) == {"no test"}


@pytest.mark.slow
def test_ddp_multirun_ranks_share_each_job_folder_and_settings(tmp_path):
    """Lightning re-launches the script for rank 1: in a multirun it must run the same job in the same
    folder, also with the default time-stamped run_name (which a re-launched process evaluates anew)."""
    probe = "+callbacks.probe._target_=test_recipes.RankProbe"
    result = _train_cli(
        "-m",
        "trainer=ddp_cpu",
        "optim.lr=1e-3,1e-4",
        f"paths.log_dir={tmp_path}",
        "test=false",
        "hydra.sweep.subdir=${hydra.job.num}",
        probe,
        pythonpath=str(Path(__file__).parent),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweeps = sorted((tmp_path / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1, f"ranks wrote into several sweep folders: {[s.name for s in sweeps]}"
    for job, lr in (("0", "0.001"), ("1", "0.0001")):
        folder = sweeps[0] / job
        for rank in (0, 1):
            got_lr, got_folder = (folder / f"rank{rank}.txt").read_text().split()
            assert (got_lr, Path(got_folder).resolve()) == (lr, folder.resolve()), (job, rank)


@pytest.mark.slow
def test_resume_keeps_the_csv_log_of_the_interrupted_run(tmp_path):
    run = tmp_path / "run"
    first = _train_cli(f"hydra.run.dir={run}", "test=false")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = _train_cli(f"hydra.run.dir={run}", "test=false", "trainer.max_epochs=2", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    import pandas as pd

    epochs = set(pd.read_csv(run / "csv" / "metrics.csv")["epoch"])
    assert epochs == {0, 1}, "the epoch-0 rows of the interrupted run were lost on resume"


def test_recipe_stage_options_are_parsed_once_for_all(tmp_path):
    """recipes/stages.sh: --stage/--stop-stage select stages, other arguments stay Hydra overrides."""
    import subprocess

    script = tmp_path / "run.sh"
    script.write_text(
        'STOP=4\nsource recipes/stages.sh\nfor s in 1 2 3 4; do stage $s && echo "stage $s"; done\n'
        'echo "overrides: $*"\n'
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        ["bash", str(script), "--stage", "2", "--stop-stage", "3", "trainer=gpu"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split("\n")[:3] == ["stage 2", "stage 3", "overrides: trainer=gpu"]
    bad = subprocess.run(["bash", str(script), "--stages", "2"], cwd=root, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option --stages" in bad.stderr
