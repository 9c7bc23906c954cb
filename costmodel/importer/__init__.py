"""Importers: a torch module (torch.fx) or an ONNX graph (the ``onnx`` package) written as a
spec. Each front end builds the same small graph (:mod:`costmodel.importer.graph`); one back
end (:mod:`costmodel.importer.structure`) turns it into spec entries, with ``residual`` and
``parallel`` where the graph has adds and concats. torch and onnx are imported inside the
front ends only: importing this package is cheap."""
