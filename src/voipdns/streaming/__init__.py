"""Frame-by-frame (streaming) inference with explicit state, in PyTorch (ONNX Runtime: ``voipdns.export``).

* ``streamer_for(net)``: the streamer of a net, from the table ``factory.STREAMERS``.
* ``Streamer.feed(chunk)`` / ``flush()``: samples in, enhanced samples out, aligned with the input.
* ``stream_file(streamer, source, target)``: a file frame by frame, with latency and per-frame times.
* Streamers: ``demucs.DemucsStreamer``, ``fullsubnet.FullSubNetStreamer``, ``gtcrn.GTCRNStreamer`` (both on
  ``centred_stft.CentredStftStreamer``), ``percepnet.PercepNetStreamer``;
  their cores export to ONNX with state inputs/outputs (``voipdns.export.stream_graph``).
* From a model spec (registry name, checkpoint, streaming ``.onnx``): ``voipdns.enhancers.load_streamer``.
"""

from voipdns.streaming.base import Streamer, StreamingCore
from voipdns.streaming.factory import STREAMERS, NotStreamableError, streamer_for
from voipdns.streaming.files import StreamReport, stream_file

__all__ = [
    "STREAMERS",
    "NotStreamableError",
    "StreamReport",
    "Streamer",
    "StreamingCore",
    "stream_file",
    "streamer_for",
]
