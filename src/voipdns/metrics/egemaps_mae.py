"""eGeMAPS MAE: how far the acoustic features of a degraded or enhanced clip are from the clean one's.

Per feature, the mean absolute error between openSMILE eGeMAPSv02 features of the clean reference and of a
test signal (the noisy input or a model's output). Two frame sets for the 25 low-level descriptors (LLDs):
all frames, and only frames where the clean clip is voiced (F0 > 0), because in unvoiced frames openSMILE
writes 0 for voice features and -201 for formant amplitudes, so a few voicing decisions dominate the
all-frames error. The 88 functionals (one vector per clip) give a clip-level absolute error.
The seed paper's Fig. 3 reports, per feature, the relative improvement of the output's MAE over the
input's: ``100 * (MAE_input - MAE_output) / MAE_input`` (positive = closer to clean than the input).

The registered scorer ``egemaps_mae`` returns ``egemaps_mae_<feature>`` and ``egemaps_mae_voiced_<feature>``
for one clip; scored on the input too (``input_egemaps_mae_*`` columns) it gives everything Fig. 3 needs.
``egemaps_func_mae`` returns ``egemaps_func_mae_<functional>`` (88 values) for one clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from voipdns.features.egemaps import EGEMAPS_LLD_NAMES, egemaps_lld
from voipdns.metrics.scoring import ClipScores, MetricFailure, register_scorer
from voipdns.metrics.silence import require_sound

F0_LLD = "F0semitoneFrom27.5Hz_sma3nz"
PREFIX = "egemaps_mae_"
VOICED_PREFIX = "egemaps_mae_voiced_"
FUNCTIONALS_PREFIX = "egemaps_func_mae_"


def short_name(lld_name: str) -> str:
    """``F0semitoneFrom27.5Hz_sma3nz`` -> ``F0semitoneFrom27.5Hz`` (the smoothing suffix adds nothing)."""
    for suffix in ("_sma3nz", "_sma3"):
        if lld_name.endswith(suffix):
            return lld_name[: -len(suffix)]
    return lld_name


def lld_names() -> tuple[str, ...]:
    return EGEMAPS_LLD_NAMES


def output_keys() -> tuple[str, ...]:
    names = [short_name(n) for n in lld_names()]
    return tuple(PREFIX + n for n in names) + tuple(VOICED_PREFIX + n for n in names)


def lld_errors(clean: np.ndarray, degraded: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """Per-LLD MAE over all frames (``"all"``) and over clean-voiced frames (``"voiced"``), each [25].

    ``"voiced"`` is all-NaN when the clean clip has no voiced frame. Signals are cropped to equal length.
    """
    num_samples = min(len(clean), len(degraded))
    names, clean_lld = egemaps_lld(np.asarray(clean[:num_samples], np.float32), sample_rate)
    _, test_lld = egemaps_lld(np.asarray(degraded[:num_samples], np.float32), sample_rate)
    frames = min(len(clean_lld), len(test_lld))
    if frames == 0:
        raise MetricFailure("openSMILE returned no eGeMAPS frames (clip too short)")
    clean_lld, test_lld = clean_lld[:frames].astype(np.float64), test_lld[:frames].astype(np.float64)
    errors = np.abs(clean_lld - test_lld)
    voiced = clean_lld[:, names.index(F0_LLD)] > 0
    voiced_mae = errors[voiced].mean(axis=0) if voiced.any() else np.full(len(names), np.nan)
    return {"all": errors.mean(axis=0), "voiced": voiced_mae}


@lru_cache(maxsize=1)
def _functionals_smile():
    import opensmile  # native library: loaded only when functionals are asked for

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )


def egemaps_functionals(wav: np.ndarray, sample_rate: int) -> tuple[list[str], np.ndarray]:
    """The 88 eGeMAPSv02 functionals of a mono clip: ``(names, values[88])``."""
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(wav)):
        raise ValueError("egemaps_functionals: audio contains NaN or Inf")
    frame = _functionals_smile().process_signal(wav, sample_rate)
    return list(frame.columns), frame.to_numpy(dtype=np.float64)[0]


def functional_errors(clean: np.ndarray, degraded: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Absolute error of each of the 88 functionals, clean vs degraded (averaged over clips it is a MAE)."""
    num_samples = min(len(clean), len(degraded))
    names, clean_values = egemaps_functionals(clean[:num_samples], sample_rate)
    _, test_values = egemaps_functionals(degraded[:num_samples], sample_rate)
    return dict(zip(names, np.abs(clean_values - test_values).tolist(), strict=True))


def relative_improvement(mae_input: np.ndarray | float, mae_output: np.ndarray | float) -> np.ndarray:
    """``100 * (input - output) / input`` in %; NaN where the input MAE is 0 (nothing to improve)."""
    mae_input = np.asarray(mae_input, dtype=np.float64)
    mae_output = np.asarray(mae_output, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        improvement = 100.0 * (mae_input - mae_output) / mae_input
    return np.where(mae_input > 0, improvement, np.nan)


def improvement_by_feature(
    input_means: Mapping[str, float], output_means: Mapping[str, float], voiced: bool = False
) -> dict[str, float]:
    """``{feature: % improvement}`` from mean ``egemaps_mae[_voiced]_<feature>`` of input and output."""
    prefix = VOICED_PREFIX if voiced else PREFIX
    result = {}
    for key, output_value in output_means.items():
        other_set = not voiced and key.startswith(VOICED_PREFIX)
        if key.startswith(prefix) and not other_set and key in input_means:
            result[key[len(prefix) :]] = float(relative_improvement(input_means[key], output_value))
    return result


def _egemaps_mae_scorer(clean, estimate, noisy, sample_rate):
    # features of a silent reference are openSMILE's floor values: an error against them measures nothing
    require_sound(clean, "clean reference")
    errors = lld_errors(clean, estimate, sample_rate)
    names = [short_name(n) for n in lld_names()]
    scores = ClipScores({PREFIX + n: float(v) for n, v in zip(names, errors["all"], strict=True)})
    voiced = {VOICED_PREFIX + n: float(v) for n, v in zip(names, errors["voiced"], strict=True)}
    scores.update(voiced)
    no_voiced_frame = "no voiced frame (F0 > 0) in the clean reference"
    scores.failures.update({key: no_voiced_frame for key, value in voiced.items() if np.isnan(value)})
    return scores


def _egemaps_func_mae_scorer(clean, estimate, noisy, sample_rate):
    require_sound(clean, "clean reference")
    return {FUNCTIONALS_PREFIX + n: v for n, v in functional_errors(clean, estimate, sample_rate).items()}


register_scorer("egemaps_mae", outputs=output_keys(), needs_clean=True)(_egemaps_mae_scorer)
# Looked up as "voipdns.metrics.egemaps_mae:egemaps_func_mae" (or by name once this module is imported).
register_scorer(
    "egemaps_func_mae",
    needs_clean=True,
    outputs=tuple(FUNCTIONALS_PREFIX + n for n in _functionals_smile().feature_names),
)(_egemaps_func_mae_scorer)
