# Copyright (c) mmhornet contributors. All rights reserved.
"""Export mmhornet models to ONNX and run the exported files in the
toolboxes (evaluation, inference, benchmarks) with onnxruntime."""
from .export import export_onnx, tensor_forward, verify_onnx
from .runtime import OnnxRuntimeModel, import_onnxruntime

__all__ = [
    'export_onnx', 'tensor_forward', 'verify_onnx', 'OnnxRuntimeModel',
    'import_onnxruntime'
]
