"""Frame-by-frame (streaming) inference with explicit state, in PyTorch or ONNX Runtime.

* ``load_streamer(spec)``: a registry name, checkpoint or streaming ``.onnx`` file -> ``Streamer``.
* ``Streamer.feed(chunk)`` / ``flush()``: samples in, enhanced samples out, aligned with the input.
* ``stream_file(streamer, source, target)``: a file frame by frame, with latency and per-frame times.
* Streamers: ``demucs.DemucsStreamer``, ``fullsubnet.FullSubNetStreamer``, ``percepnet.PercepNetStreamer``;
  their cores export to ONNX with state inputs/outputs (``onnx.export_stream_onnx``).
"""

from voipdns.streaming.base import Streamer, StreamingCore
from voipdns.streaming.factory import NotStreamableError, load_streamer, streamer_for
from voipdns.streaming.files import StreamReport, stream_enhancer, stream_file

__all__ = [
    "NotStreamableError",
    "StreamReport",
    "Streamer",
    "StreamingCore",
    "load_streamer",
    "stream_enhancer",
    "stream_file",
    "streamer_for",
]
