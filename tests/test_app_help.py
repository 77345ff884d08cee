"""Each app's --help: its own examples and only the config groups it composes (never Hydra's list of all 20)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from hydra_helpers import group_options
from voipdns.config import CONFIG_DIR

# entry config -> (console script, the groups its help must list)
APPS = {
    "train": (
        "voipdns-train",
        {
            "data",
            "net",
            "loss",
            "model",
            "optim",
            "scheduler",
            "callbacks",
            "logger",
            "trainer",
            "experiment",
            "debug",
            "hparams_search",
            "launcher",
        },
    ),
    "eval": ("voipdns-eval", {"data"}),
    "enhance": ("voipdns-enhance", set()),
    "export": ("voipdns-export", {"net"}),
    "simulate": ("voipdns-simulate", {"voip"}),
    "live": ("voipdns-live", set()),
    "speaker_embedder": ("voipdns-train-speaker", {"trainer", "logger"}),
    "tap_estimator": ("voipdns-train-tap", {"trainer", "logger"}),
}
ALL_GROUPS = {path.name for path in CONFIG_DIR.iterdir() if path.is_dir() and path.name not in ("hydra", "local")}
GROUP_LINE = re.compile(r"^  (\w+)(?: \([^)]*\))?: (.+)$", re.M)


def rendered_help(config_name: str) -> str:
    """The help text as Hydra prints it before substituting $CONFIG (interpolations and resolvers applied)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, return_hydra_config=True)
    return str(cfg.hydra.help.template)


@pytest.mark.parametrize("config_name", sorted(APPS))
def test_help_has_examples_and_only_the_apps_groups(config_name):
    script, groups = APPS[config_name]
    text = rendered_help(config_name)
    examples = [line for line in text.splitlines() if line.strip().startswith(f"{script} ")]
    assert 3 <= len(examples) <= 5, examples
    listed = {name: options for name, options in GROUP_LINE.findall(text) if name in ALL_GROUPS}
    assert set(listed) == groups
    for name, options in listed.items():  # options come from the folder, so a new net shows up by itself
        assert options.split(", ") == group_options(name)


def test_console_script_prints_the_apps_help(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "voipdns", "enhance", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("voipdns-enhance: ")
    assert "voipdns-enhance checkpoint=dns48 input=recordings/ output=enhanced/" in done.stdout
    assert "checkpoint: voipdns-gtcrn" in done.stdout and "input: ???" in done.stdout  # the app's own keys
    assert "Configuration groups" not in done.stdout and "experiment:" not in done.stdout
