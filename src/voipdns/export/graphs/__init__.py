"""One module per ONNX graph kind: what part of a net is traced (``build``) and how the runtime binds the
session back in its place (``bind``). Which net uses which kind is the table in ``voipdns.export.adapters``."""
