"""Packaging: ranges in pyproject, exact tested pins in constraints.txt, licence and citation files present."""

from __future__ import annotations

from importlib import metadata

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import PROJECT_ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11 (tomllib)")
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
# installed by the Makefile on their own: torch first (CPU build), so it is a floor only and never pinned here
NOT_CONSTRAINED = {"torch"}


def _requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = [dep for deps in project["optional-dependencies"].values() for dep in deps]
    return [Requirement(text) for text in [*project["dependencies"], *extras]]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def test_dependencies_are_ranges_with_an_upper_bound():
    for requirement in _requirements():
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" not in operators, f"{requirement}: exact pins belong in constraints.txt"
        if requirement.name not in NOT_CONSTRAINED:
            assert {">=", "<"} <= operators, f"{requirement}: declare >=tested,<next major"


def test_constraints_pin_every_dependency_inside_its_range():
    pins = _constraints()
    assert "torch" not in pins and "voipdns" not in pins
    for requirement in _requirements():
        name = requirement.name.lower()
        if name in NOT_CONSTRAINED:
            continue
        assert name in pins, f"{requirement.name} has no exact pin in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {requirement}"


def test_installed_versions_match_the_constraints():
    """The .venv was built from constraints.txt: a drifted pin means the file no longer says what was tested."""
    drifted = []
    for name in ("lightning", "hydra-core", "numpy", "soundfile", "onnxruntime", "pesq"):
        pinned = _constraints()[name]
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.skip(f"{name} not installed")
        if installed != pinned:
            drifted.append(f"{name}: installed {installed}, constraints.txt {pinned}")
    assert not drifted, drifted


def test_license_citation_and_changelog():
    assert (PROJECT_ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "voipdns contributors" in (PROJECT_ROOT / "LICENSE").read_text()
    assert PYPROJECT["project"]["license"] == "MIT"
    citation = yaml.safe_load((PROJECT_ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert citation["version"] == PYPROJECT["project"]["version"]
    assert all(reference["authors"] and reference["year"] for reference in citation["references"])
    assert "## [Unreleased]" in (PROJECT_ROOT / "CHANGELOG.md").read_text()


def test_every_console_script_is_reachable_through_python_m():
    from voipdns.__main__ import APPS

    scripts = PYPROJECT["project"]["scripts"]
    assert {f"voipdns-{name}" for name in APPS} == set(scripts)
    for name, target in APPS.items():
        assert scripts[f"voipdns-{name}"] == target
