"""Live use: microphone -> streaming model -> output device (a virtual cable any call app can use).

``run_live(source, streamer, sink, post)`` with sources/sinks from ``voipdns.live.io`` (files, arrays) or
``voipdns.live.devices`` (sound cards through the optional ``sounddevice`` package), and post-processing
from ``voipdns.live.postprocess`` (voice-band EQ, soft noise gate with hold).
"""

from voipdns.live.io import ArraySink, ArraySource, AudioSink, AudioSource, FileSink, FileSource
from voipdns.live.loop import LiveReport, run_live
from voipdns.live.postprocess import NoiseGate, PostChain, VoiceBandEQ

__all__ = [
    "ArraySink",
    "ArraySource",
    "AudioSink",
    "AudioSource",
    "FileSink",
    "FileSource",
    "LiveReport",
    "NoiseGate",
    "PostChain",
    "VoiceBandEQ",
    "run_live",
]
