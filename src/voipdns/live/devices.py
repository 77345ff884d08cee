"""Sound-card input/output through the optional ``sounddevice`` package (PortAudio), imported lazily.

Route the enhanced microphone into any call app through a virtual device: on Linux a PulseAudio/PipeWire
null sink (``pactl load-module module-null-sink sink_name=voipdns``; play into ``voipdns``, select
"Monitor of voipdns" as the app's microphone), on Windows/macOS a virtual cable (VB-CABLE: play into
"CABLE Input", select "CABLE Output"; BlackHole on macOS).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.resampler import stream_resampler

INSTALL_HINT = "pip install 'voipdns[live]' (sounddevice; Linux also needs PortAudio: apt-get install libportaudio2)"


class LiveDependencyError(ImportError):
    """sounddevice/PortAudio missing: the message says how to install them."""


def import_sounddevice() -> Any:
    try:
        import sounddevice  # deferred: the optional extra '.[live]', needed only for real devices
    except (ImportError, OSError) as error:  # OSError: the module is there but PortAudio is not
        raise LiveDependencyError(
            f"live audio devices need the sounddevice package: {INSTALL_HINT} ({error})"
        ) from error
    return sounddevice


def list_devices() -> list[dict]:
    """Every audio device: index, name, host API, input/output channels, default sample rate (Hz)."""
    sd = import_sounddevice()
    apis = sd.query_hostapis()
    return [
        {
            "index": index,
            "name": info["name"],
            "hostapi": apis[info["hostapi"]]["name"],
            "inputs": info["max_input_channels"],
            "outputs": info["max_output_channels"],
            "default_sample_rate": info["default_samplerate"],
        }
        for index, info in enumerate(sd.query_devices())
    ]


def format_devices(devices: list[dict]) -> str:
    lines = [f"{'#':>3}  {'in':>3} {'out':>3}  {'rate':>6}  name (host API)"]
    for d in devices:
        lines.append(
            f"{d['index']:>3}  {d['inputs']:>3} {d['outputs']:>3}  {d['default_sample_rate']:>6.0f}  "
            f"{d['name']} ({d['hostapi']})"
        )
    return "\n".join(lines)


def _open_stream(stream_class, device, device_rate: int, block_samples: int, sample_rate: int, callback):
    """A started mono float32 PortAudio stream whose blocks last as long as ``block_samples`` at ``sample_rate``."""
    stream = stream_class(
        device=device,
        samplerate=device_rate,
        blocksize=max(1, round(block_samples * device_rate / sample_rate)),
        channels=1,
        dtype="float32",
        callback=callback,
    )
    stream.start()
    return stream


class DeviceSource:
    """Microphone blocks of ``block_samples`` at ``sample_rate`` (resampled if the device runs at another)."""

    def __init__(
        self,
        device: int | str | None = None,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        block_samples: int = 256,
        device_sample_rate: int | None = None,
        timeout_seconds: float = 2.0,
    ):
        sd = import_sounddevice()
        self.sample_rate = int(sample_rate)
        self.device_rate = int(device_sample_rate or sample_rate)
        self.timeout = timeout_seconds
        self.overflows = 0
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._resampler = stream_resampler(self.device_rate, self.sample_rate)
        self._stream = _open_stream(
            sd.InputStream, device, self.device_rate, block_samples, self.sample_rate, self._callback
        )

    def _callback(self, indata, frames, time, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(indata[:, 0].copy())

    def read(self) -> np.ndarray | None:
        try:
            block = self._queue.get(timeout=self.timeout)
        except queue.Empty as error:
            raise TimeoutError(f"no audio from the input device for {self.timeout} s") from error
        return self._resampler.resample_chunk(block) if self._resampler else block

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


class DeviceSink:
    """Plays blocks on an output device (e.g. a virtual cable); underruns are filled with silence, counted."""

    def __init__(
        self,
        device: int | str | None = None,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        block_samples: int = 256,
        device_sample_rate: int | None = None,
    ):
        sd = import_sounddevice()
        self.sample_rate = int(sample_rate)
        self.device_rate = int(device_sample_rate or sample_rate)
        self.underruns = 0
        self._buffer = np.zeros(0, dtype=np.float32)
        self._lock = threading.Lock()
        self._resampler = stream_resampler(self.sample_rate, self.device_rate)
        self._stream = _open_stream(
            sd.OutputStream, device, self.device_rate, block_samples, self.sample_rate, self._callback
        )

    def _callback(self, outdata, frames, time, status) -> None:
        with self._lock:
            ready = self._buffer[:frames]
            self._buffer = self._buffer[frames:]
        outdata[: ready.size, 0] = ready
        if ready.size < frames:
            outdata[ready.size :, 0] = 0.0
            self.underruns += 1

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        if self._resampler:
            samples = self._resampler.resample_chunk(samples)
        with self._lock:
            self._buffer = np.concatenate([self._buffer, samples])

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
