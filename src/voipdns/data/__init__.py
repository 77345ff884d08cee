"""Datasets and the DataModule. Items are dicts `{noisy [1,T], clean [1,T], name, condition}`.

Names are imported lazily so `import voipdns.data.mixing` does not pull in Lightning.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EnhancementDataModule": "voipdns.data.datamodule",
    "SyntheticSpeechDataset": "voipdns.data.synthetic",
    "FolderMixDataset": "voipdns.data.folders",
    "PairedFolderDataset": "voipdns.data.pairs",
    "AudioReader": "voipdns.data.reader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'voipdns.data' has no attribute {name!r}")
