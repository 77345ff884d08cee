"""voipdns: speech enhancement for VoIP audio (Lightning + Hydra)."""

__version__ = "0.1.0"
