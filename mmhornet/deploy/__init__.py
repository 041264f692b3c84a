# Copyright (c) mmhornet contributors. All rights reserved.
"""Export mmhornet models to ONNX and run the exported files in the
toolboxes (evaluation, inference, benchmarks) with onnxruntime or
OpenVINO."""
from .export import export_onnx, verify_onnx
from .runtime import BACKENDS, OnnxRuntimeModel, create_runner

__all__ = [
    'export_onnx', 'verify_onnx', 'OnnxRuntimeModel', 'BACKENDS',
    'create_runner'
]
