# Copyright (c) mmhornet contributors. All rights reserved.
"""Export mmhornet models to ONNX and run the exported files in the
toolboxes (evaluation, inference, benchmarks) with onnxruntime or
OpenVINO."""
from .export import export_onnx, tensor_forward, verify_onnx
from .runtime import (BACKENDS, OnnxRuntimeModel, create_runner,
                      import_onnxruntime, import_openvino)

__all__ = [
    'export_onnx', 'tensor_forward', 'verify_onnx', 'OnnxRuntimeModel',
    'BACKENDS', 'create_runner', 'import_onnxruntime', 'import_openvino'
]
