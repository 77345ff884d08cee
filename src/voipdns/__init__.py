"""voipdns: speech enhancement for VoIP audio (Lightning + Hydra).

``voipdns.enhance_file(path, checkpoint=..., output=...)`` enhances one file; ``voipdns.load_net(name_or_path)``
returns a net whose ``enhance(audio, sample_rate=None)`` takes numpy or torch audio. Both are imported on first
use, so ``import voipdns`` stays light (no torch start-up for ``python -m voipdns``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module that defines it, imported on first access
_LAZY = {"enhance_file": "voipdns.enhance_api", "load_net": "voipdns.pretrained"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'voipdns' has no attribute '{name}'")
