"""Streaming the frames of a centred STFT and overlap-adding them back exactly as the offline pair does.

The offline STFT nets (FullSubNet, GTCRN) run ``torch.stft(center=True)``: the clip is reflect-padded by half a
window at both ends, so a clip of ``T`` samples gives ``T // hop + 1`` frames, and ``torch.istft`` divides the
overlap-added frames by the summed window power. ``CentredStftStreamer`` reproduces both per 16 ms hop:

* start: frame 0 needs the reflection of samples 1..hop, so nothing is framed before ``hop + 1`` samples;
* each complete ``n_fft`` frame is windowed and transformed (``rfft``) and handed to ``_step``, the subclass's
  core step, which returns the enhanced spectra that are ready (a net with look-ahead returns them later);
* each enhanced spectrum is inverted, windowed, overlap-added and normalised by the window power of the two
  frames over each output sample (``torch.istft``'s envelope);
* ``flush`` zero-pads a clip shorter than the net's minimum (as its ``forward`` does), reflect-pads the end,
  runs ``tail_steps`` more core steps (``_step(None)``: FullSubNet's zero look-ahead frames) and returns the
  last half frame, normalised by the only window that covers it.

So ``feed + flush`` equals ``istft(net(stft(x)))`` within float32 rounding. Supported: ``win = n_fft = 2 hop``
(the released 512 / 256 settings): every output sample lies under exactly two frames.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from voipdns.dsp.stft import Stft
from voipdns.streaming.base import Streamer, empty


class CentredStftStreamer(Streamer):
    """Framing and overlap-add of a centred STFT around a stateful core step (see the module docstring).

    Subclasses set ``core`` / ``runner`` and their identity attributes, implement ``_reset_core`` and
    ``_step``, and call ``self._reset()`` at the end of their constructor.
    """

    #: Core steps run after the last frame (``_step(None)``), for nets whose output lags their input.
    tail_steps: int = 0

    def __init__(self, stft: Stft, min_samples: int, owner: str):
        super().__init__()
        if stft.win_samples != stft.n_fft or stft.n_fft != 2 * stft.hop_samples:
            raise ValueError(
                f"{owner} streaming supports win = n_fft = 2 hop (the released 512/256), got "
                f"n_fft {stft.n_fft}, win {stft.win_samples}, hop {stft.hop_samples}"
            )
        self.hop_samples = stft.hop_samples
        self.min_samples = int(min_samples)  # the offline net zero-pads shorter clips to this many samples
        self.window = stft.window.detach().float()
        power = self.window.square()
        hop = self.hop_samples
        self.envelope = power[:hop] + power[hop:]  # window power of the two frames over each output sample
        self.last_envelope = power[hop:]  # after the last frame only its second half remains

    # --- what a subclass provides ----------------------------------------------------------------------
    @abstractmethod
    def _reset_core(self) -> None:
        """Back to the state before the first frame."""

    @abstractmethod
    def _step(self, spectrum: torch.Tensor | None) -> list[torch.Tensor]:
        """One core step on the next frame's complex spectrum ``[n_fft // 2 + 1]`` (``None``: one of the
        ``tail_steps`` past the clip's end); returns the enhanced complex spectra now ready, oldest first."""

    # --- framing ---------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.raw = empty()  # input not yet framed (plus the frame overlap; reflect-prefixed once started)
        self.padded_started = False
        self.recent = empty()  # last n_fft input samples (for the end's reflection)
        self.ola_tail = torch.zeros(self.hop_samples)
        self.frames_in = 0  # frames analysed
        self.frames_out = 0  # enhanced frames overlap-added
        self._reset_core()

    def _take_frames(self) -> list[np.ndarray]:
        n_fft, hop = 2 * self.hop_samples, self.hop_samples
        frames = []
        while self.raw.size >= n_fft:
            frames.append(self.raw[:n_fft].copy())
            self.raw = self.raw[hop:]
        return frames

    def _push(self, samples: np.ndarray) -> list[np.ndarray]:
        """Adds input (already reflect-prefixed at the start) and returns the frames now complete."""
        self.raw = np.concatenate([self.raw, samples])
        return self._take_frames()

    def _analyse(self, frame: np.ndarray) -> list[np.ndarray]:
        started = self.timer.start()
        spectrum = torch.fft.rfft(torch.from_numpy(frame) * self.window)
        self.frames_in += 1
        out = [block for enhanced in self._step(spectrum) for block in self._synthesise(enhanced)]
        self.timer.stop(started)
        return out

    def _synthesise(self, spectrum: torch.Tensor) -> list[np.ndarray]:
        hop = self.hop_samples
        frame = torch.fft.irfft(spectrum, n=2 * hop) * self.window
        block = (self.ola_tail + frame[:hop]) / self.envelope
        self.ola_tail = frame[hop:]
        self.frames_out += 1
        # block j covers input samples [hop (j - 1), hop j): block 0 lies before the clip
        return [block.numpy()] if self.frames_out > 1 else []

    def _run_frames(self, frames: list[np.ndarray]) -> np.ndarray:
        out = [block for frame in frames for block in self._analyse(frame)]
        return np.concatenate(out).astype(np.float32) if out else empty()

    # --- streaming ---------------------------------------------------------------------------------------
    def _feed(self, chunk: np.ndarray) -> np.ndarray:
        n_fft = 2 * self.hop_samples
        self.recent = np.concatenate([self.recent, chunk])[-n_fft:]
        if not self.padded_started:
            self.raw = np.concatenate([self.raw, chunk])
            if self.raw.size <= self.hop_samples:  # the reflection needs sample hop (index 256)
                return empty()
            self.raw = np.concatenate([self.raw[1 : self.hop_samples + 1][::-1], self.raw])
            self.padded_started = True
            return self._run_frames(self._take_frames())
        return self._run_frames(self._push(chunk))

    def _flush(self) -> np.ndarray:
        hop = self.hop_samples
        out = []
        if self.samples_in < self.min_samples:
            out.append(self._feed(np.zeros(self.min_samples - self.samples_in, dtype=np.float32)))
        frames_total = max(self.samples_in, self.min_samples) // hop + 1
        out.append(self._run_frames(self._push(self.recent[-hop - 1 : -1][::-1].copy())))
        if self.frames_in != frames_total:
            raise RuntimeError(f"internal: {self.frames_in} frames, expected {frames_total}")
        for _ in range(self.tail_steps):
            started = self.timer.start()
            out.extend(block for enhanced in self._step(None) for block in self._synthesise(enhanced))
            self.timer.stop(started)
        out.append((self.ola_tail / self.last_envelope).numpy())  # covered by the last frame only
        return np.concatenate(out).astype(np.float32)
