"""Loss terms: ``forward(outputs: dict, batch: dict) -> scalar``, summed by CompositeLoss."""
