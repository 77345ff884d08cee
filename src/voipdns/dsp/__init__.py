"""Signal-processing building blocks (framing, filterbanks, pitch), each in its own file."""
