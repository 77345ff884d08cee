"""Readable names and feature families of the 25 eGeMAPS low-level descriptors, for the Fig. 3 plot.

Families follow the eGeMAPS paper (Eyben et al., 2016): frequency-related parameters, energy/amplitude
parameters and spectral (balance) parameters; the extended set's MFCCs and spectral flux get a family of their
own. Keys are the short LLD names the ``egemaps_mae`` scorer writes (``F0semitoneFrom27.5Hz``, ``Loudness``).
"""

from __future__ import annotations

FREQUENCY = "Frequency"
ENERGY = "Energy / amplitude"
BALANCE = "Spectral balance"
SHAPE = "Spectral shape (MFCC, flux)"
OTHER = "Other"
FAMILY_ORDER = (FREQUENCY, ENERGY, BALANCE, SHAPE, OTHER)
# Family names as a plot's row labels: short lines, so a 3-feature row still holds its label.
FAMILY_AXIS_LABELS = {ENERGY: "Energy /\namplitude", BALANCE: "Spectral\nbalance", SHAPE: "MFCC /\nflux"}

FEATURES: dict[str, tuple[str, str]] = {
    "F0semitoneFrom27.5Hz": (FREQUENCY, "Pitch F0 (semitones)"),
    "jitterLocal": (FREQUENCY, "Jitter"),
    "F1frequency": (FREQUENCY, "F1 frequency (Hz)"),
    "F2frequency": (FREQUENCY, "F2 frequency (Hz)"),
    "F3frequency": (FREQUENCY, "F3 frequency (Hz)"),
    "F1bandwidth": (FREQUENCY, "F1 bandwidth (Hz)"),
    "F2bandwidth": (FREQUENCY, "F2 bandwidth (Hz)"),
    "F3bandwidth": (FREQUENCY, "F3 bandwidth (Hz)"),
    "Loudness": (ENERGY, "Loudness"),
    "shimmerLocaldB": (ENERGY, "Shimmer (dB)"),
    "HNRdBACF": (ENERGY, "Harmonics-to-noise ratio (dB)"),
    "alphaRatio": (BALANCE, "Alpha ratio"),
    "hammarbergIndex": (BALANCE, "Hammarberg index"),
    "slope0-500": (BALANCE, "Spectral slope 0-500 Hz"),
    "slope500-1500": (BALANCE, "Spectral slope 500-1500 Hz"),
    "logRelF0-H1-H2": (BALANCE, "H1-H2 harmonic difference"),
    "logRelF0-H1-A3": (BALANCE, "H1-A3 harmonic difference"),
    "F1amplitudeLogRelF0": (BALANCE, "F1 relative energy"),
    "F2amplitudeLogRelF0": (BALANCE, "F2 relative energy"),
    "F3amplitudeLogRelF0": (BALANCE, "F3 relative energy"),
    "mfcc1": (SHAPE, "MFCC 1"),
    "mfcc2": (SHAPE, "MFCC 2"),
    "mfcc3": (SHAPE, "MFCC 3"),
    "mfcc4": (SHAPE, "MFCC 4"),
    "spectralFlux": (SHAPE, "Spectral flux"),
}


def feature_family(feature: str) -> str:
    return FEATURES.get(feature, (OTHER, feature))[0]


def family_axis_label(family: str) -> str:
    return FAMILY_AXIS_LABELS.get(family, family)


def feature_label(feature: str) -> str:
    """``F0semitoneFrom27.5Hz`` -> ``Pitch F0 (semitones)``; an unknown feature keeps its name."""
    return FEATURES.get(feature, (OTHER, feature))[1]


def by_family(features: list[str]) -> dict[str, list[str]]:
    """Features grouped by family in ``FAMILY_ORDER``, each family in the table's order (empty ones left out)."""
    order = {name: index for index, name in enumerate(FEATURES)}
    grouped: dict[str, list[str]] = {}
    for family in FAMILY_ORDER:
        members = [f for f in features if feature_family(f) == family]
        if members:
            grouped[family] = sorted(members, key=lambda f: (order.get(f, len(order)), f))
    return grouped
