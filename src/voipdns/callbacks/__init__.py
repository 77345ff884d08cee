"""Lightning callbacks of voipdns (each built from ``conf/callbacks/<name>.yaml``)."""

from voipdns.callbacks.metrics import EnhancementMetrics

__all__ = ["EnhancementMetrics"]
