"""The sample rate voipdns works at unless told otherwise, defined once (Hz).

Nets, datasets, losses, streamers and metrics take a ``sample_rate`` argument that defaults to this; configs
set it explicitly (``net.sample_rate``, ``data.sample_rate``: ``voipdns-train`` refuses them unequal). Rates
that are facts of a standard or an external model (PESQ-WB's 16 kHz, G.722, Opus' rates, DNSMOS' input) keep
their own named constants where they are used.
"""

DEFAULT_SAMPLE_RATE = 16000
