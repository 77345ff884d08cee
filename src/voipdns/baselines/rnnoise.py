"""RNNoise (Valin 2018; the xiph library with its built-in model) from the ``pyrnnoise`` wheel, no network.

The wheel ships ``librnnoise.so`` with the model compiled in; ``pyrnnoise.rnnoise`` loads it with ctypes and sets
the argument types. voipdns calls ``rnnoise_process_frame`` on float frames itself: the package's own
``RNNoise`` class resamples with its own filters and quantises to int16, which voipdns does not want.
"""

from __future__ import annotations

import ctypes

import numpy as np

from voipdns.baselines.spec import BaselineSpec, import_extra

NAME = "rnnoise"
DISTRIBUTION = "pyrnnoise"
SAMPLE_RATE = 48000
#: RNNoise takes samples on the int16 scale as floats
INT16_SCALE = 32768.0
#: 20 ms: 480-sample frames, 960-sample analysis window; measured by ``voipdns.baselines.delay`` (tested)
DELAY_SAMPLES = 960

_FLOAT_POINTER = ctypes.POINTER(ctypes.c_float)


class RNNoiseEngine:
    def __init__(self) -> None:
        native = import_extra("pyrnnoise.rnnoise", NAME, DISTRIBUTION)
        self._lib = native.lib
        self.frame_samples = int(native.FRAME_SIZE)
        self._state = self._lib.rnnoise_create(None)
        if not self._state:
            raise RuntimeError("rnnoise_create returned NULL (out of memory?)")

    def process(self, frame: np.ndarray) -> np.ndarray:
        scaled = np.ascontiguousarray(frame, dtype=np.float32) * np.float32(INT16_SCALE)
        out = np.empty_like(scaled)
        # returns the frame's voice probability, which the enhancer does not need
        self._lib.rnnoise_process_frame(
            self._state, out.ctypes.data_as(_FLOAT_POINTER), scaled.ctypes.data_as(_FLOAT_POINTER)
        )
        return out / np.float32(INT16_SCALE)

    def close(self) -> None:
        if self._state:
            self._lib.rnnoise_destroy(self._state)
            self._state = None


SPEC = BaselineSpec(
    name=NAME,
    distribution=DISTRIBUTION,
    sample_rate=SAMPLE_RATE,
    delay_samples=DELAY_SAMPLES,
    open_engine=RNNoiseEngine,
    description="RNNoise (xiph, built-in model; BSD-3-Clause), 48 kHz, 10 ms frames",
)
