"""ONNX export of voipdns nets: graphs, metadata, parity checks, INT8 quantisation, ONNX Runtime runners.

* ``export_onnx(net, path, name, config)`` (``onnx_export``); ``graph_spec`` (``adapters``: the table from
  net class to graph kind, one module per kind in ``graphs/``): what is exported.
* ``check_parity`` (``parity``): ONNX Runtime vs PyTorch, max |diff| per length.
* ``quantize_int8`` (dynamic, or static with calibration audio) / ``int8_quality`` (``quantize``);
  ``polyphase``: transposed convs as plain convs, so static INT8 reaches them.
* ``OnnxNet(path)`` (``runtime``) runs an offline graph; ``stream_graph`` exports and runs streaming graphs.
  ``voipdns.enhancers.load_enhancer`` turns either into an ``Enhancer`` for voipdns-enhance / voipdns-eval.
* ``pipeline``: the steps voipdns-export runs (graph, parity, INT8 copy) from the export config.
"""

from voipdns.export.metadata import OnnxMetadataError, read_metadata
from voipdns.export.onnx_export import export_onnx
from voipdns.export.parity import ParityError, check_parity
from voipdns.export.quantize import int8_quality, quantize_int8
from voipdns.export.runtime import OnnxNet

__all__ = [
    "OnnxMetadataError",
    "OnnxNet",
    "ParityError",
    "check_parity",
    "export_onnx",
    "int8_quality",
    "quantize_int8",
    "read_metadata",
]
