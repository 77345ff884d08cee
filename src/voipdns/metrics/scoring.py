"""Scorer registry and per-clip scoring: a metric that fails is NaN with a recorded reason, never 0.

A *scorer* is a function ``fn(clean | None, estimate, noisy | None, sample_rate) -> dict[str, float]``
registered under a name with :func:`register_scorer`. One scorer may return several values (DNSMOS gives
``sig``/``bak``/``ovrl``), so each declares its ``outputs``. Scorers raise :class:`MetricFailure` (or any
exception) when a value is undefined; :func:`score_clip` turns that into NaN + a reason per output.

Adding a scorer needs no edit here: put it in ``voipdns/metrics/<name>.py`` (imported on first lookup of
``<name>``), or in any module named as ``"package.module:scorer_name"``.

This module must not import torch: pool workers import it and start faster without.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voipdns.arrays import to_mono_numpy  # noqa: F401  (part of this module's API)

ScorerFn = Callable[[np.ndarray | None, np.ndarray, np.ndarray | None, int], Mapping[str, float]]

# The metrics of `voipdns.metrics.intrusive` (module imported lazily to avoid a cycle).
BUILTIN_MODULE = "voipdns.metrics.intrusive"
# Scorers that live in a module of another name (found by name alone in a fresh worker process).
SCORER_MODULES = {"pdnsmos": "voipdns.metrics.dnsmos", "egemaps_func_mae": "voipdns.metrics.egemaps_mae"}


class MetricFailure(Exception):
    """A metric is undefined for this clip (too short, silent reference, ...); the message is the reason."""


@dataclass(frozen=True)
class ScorerSpec:
    """A registered scorer. ``fn`` must be a module-level function so specs pickle into worker processes."""

    name: str
    fn: ScorerFn
    outputs: tuple[str, ...]
    needs_clean: bool = True
    needs_noisy: bool = False


_REGISTRY: dict[str, ScorerSpec] = {}


def register_scorer(
    name: str,
    *,
    outputs: Sequence[str] | None = None,
    needs_clean: bool = True,
    needs_noisy: bool = False,
) -> Callable[[ScorerFn], ScorerFn]:
    """Decorator: register ``fn`` as scorer ``name`` producing ``outputs`` (default: just ``name``)."""

    def decorate(fn: ScorerFn) -> ScorerFn:
        spec = ScorerSpec(name, fn, tuple(outputs or (name,)), needs_clean, needs_noisy)
        existing = _REGISTRY.get(name)
        if existing is not None and existing.fn is not fn and _qualname(existing.fn) != _qualname(fn):
            raise ValueError(f"scorer {name!r} is already registered by {_qualname(existing.fn)}")
        _REGISTRY[name] = spec
        return fn

    return decorate


def _qualname(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def available_scorers() -> list[str]:
    """Every scorer name usable in a metric list: the modules of ``voipdns.metrics`` are imported so each
    registers its scorers (DNSMOS, PLCMOS, eGeMAPS, ... are otherwise registered on first use only)."""
    importlib.import_module(BUILTIN_MODULE)
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        try:
            importlib.import_module(f"{__package__}.{module.name}")
        except ImportError:  # a scorer whose optional dependency is missing cannot be offered
            continue
    return sorted(_REGISTRY)


def get_scorer(name: str | ScorerSpec) -> ScorerSpec:
    """Resolve a scorer by name: registry, then ``voipdns.metrics.<name>``, then ``"module:name"``."""
    if isinstance(name, ScorerSpec):
        return name
    importlib.import_module(BUILTIN_MODULE)
    if name in _REGISTRY:
        return _REGISTRY[name]
    default_module = SCORER_MODULES.get(name, f"voipdns.metrics.{name}")
    module, _, scorer_name = name.rpartition(":") if ":" in name else (default_module, "", name)
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:  # the module exists but one of its own imports is missing
            raise
    if scorer_name in _REGISTRY:
        return _REGISTRY[scorer_name]
    raise KeyError(
        f"unknown metric {name!r}; registered scorers are {', '.join(available_scorers())} "
        "(or 'package.module:scorer' for a scorer registered elsewhere)"
    )


def resolve_scorers(metrics: Iterable[str | ScorerSpec]) -> tuple[ScorerSpec, ...]:
    specs = tuple(get_scorer(m) for m in metrics)
    if not specs:
        raise ValueError("no metrics requested")
    return specs


def output_names(metrics: Iterable[str | ScorerSpec]) -> list[str]:
    """The value keys the scorers produce, in order (``["pesq_wb", "dnsmos_sig", ...]``)."""
    return [key for spec in resolve_scorers(metrics) for key in spec.outputs]


class ClipScores(dict):
    """One clip's scores: a plain ``dict[str, float]``; ``failures`` maps a metric to why it is NaN."""

    def __init__(self, values: Mapping[str, float] | None = None, failures: Mapping[str, str] | None = None):
        super().__init__(values or {})
        self.failures: dict[str, str] = dict(failures or {})

    def __repr__(self) -> str:
        return f"ClipScores({dict(self)!r}, failures={self.failures!r})"

    def fail(self, keys: Iterable[str], reason: str) -> None:
        for key in keys:
            self[key] = math.nan
            self.failures[key] = reason


def _input_problem(wav: np.ndarray, what: str) -> str | None:
    if wav.size == 0:
        return f"{what} is empty"
    if not np.all(np.isfinite(wav)):
        return f"{what} has NaN/Inf samples"
    return None


def score_clip(
    clean: Any,
    estimate: Any,
    sample_rate: int,
    metrics: Iterable[str | ScorerSpec] = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr"),
    noisy: Any = None,
) -> ClipScores:
    """Score one clip with each scorer; lengths are cropped to the shortest signal given.

    Never raises for a bad clip (diverged net, too-short file): every failing output is NaN and its reason
    is in ``.failures``. Raises ``ValueError`` only for a caller error (multi-channel input, bad rate).
    """
    if int(sample_rate) <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    specs = resolve_scorers(metrics)
    signals = {
        "clean": to_mono_numpy(clean, "clean"),
        "estimate": to_mono_numpy(estimate, "estimate"),
        "noisy": to_mono_numpy(noisy, "noisy"),
    }
    given = {k: v for k, v in signals.items() if v is not None}
    num_samples = min(v.size for v in given.values())
    given = {k: v[:num_samples] for k, v in given.items()}
    problems = {k: _input_problem(v, k) for k, v in given.items()}
    scores = ClipScores()
    for spec in specs:
        _run_scorer(spec, given, problems, int(sample_rate), scores)
    return scores


def _run_scorer(
    spec: ScorerSpec,
    given: dict[str, np.ndarray],
    problems: dict[str, str | None],
    sample_rate: int,
    scores: ClipScores,
) -> None:
    used = ["estimate"] + (["clean"] if spec.needs_clean else []) + (["noisy"] if spec.needs_noisy else [])
    missing = [k for k in used if k not in given]
    if missing:
        scores.fail(spec.outputs, f"no {' / '.join(missing)} signal given")
        return
    bad = [problems[k] for k in used if problems[k]]
    if bad:
        scores.fail(spec.outputs, "; ".join(bad))
        return
    try:
        result = spec.fn(given.get("clean"), given["estimate"], given.get("noisy"), sample_rate)
    except Exception as error:  # any scorer error is this clip's failure, not the run's
        reason = str(error) if isinstance(error, MetricFailure) else f"{type(error).__name__}: {error}"
        scores.fail(spec.outputs, f"{spec.name}: {reason}")
        return
    reasons = getattr(result, "failures", {})  # a scorer may return ClipScores saying why some outputs are NaN
    for key in spec.outputs:
        value = result.get(key)
        if value is None:
            scores.fail([key], f"{spec.name} returned no {key!r}")
        elif not math.isfinite(float(value)):
            scores.fail([key], f"{spec.name}: {reasons[key]}" if key in reasons else
                        f"{spec.name} returned a non-finite {key} ({value})")  # fmt: skip
        else:
            scores[key] = float(value)
