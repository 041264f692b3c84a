# Copyright (c) mmhornet contributors. All rights reserved.
"""Run exported ONNX files in the toolboxes with onnxruntime or OpenVINO."""
import copy
import json
import os.path as osp
from typing import Callable, Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS as ROOT_MODELS

from mmhornet.registry import MODELS

INSTALL_HINT = ('pip install --no-build-isolation -e ".[deploy]" in the '
                'mmhornet clone (or: pip install onnx onnxruntime onnxscript '
                'openvino)')

#: The runtimes that run exported files.
BACKENDS = ('onnxruntime', 'openvino')

#: A compiled graph: a batch in, the graph's outputs out.
Runner = Callable[[np.ndarray], List[np.ndarray]]


def import_onnxruntime():
    """Import onnxruntime, or say how to install it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            f'Running ONNX files needs onnxruntime: {INSTALL_HINT}') from error
    return onnxruntime


def import_openvino():
    """Import OpenVINO, or say how to install it."""
    try:
        import openvino
    except ImportError as error:
        raise ImportError('Running ONNX files with --backend openvino needs '
                          f'OpenVINO: {INSTALL_HINT}') from error
    return openvino


def _check_file(onnx_file: str) -> None:
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(
            f'ONNX file not found: {osp.abspath(onnx_file)}')


def create_session(onnx_file: str, threads: Optional[int] = None):
    """An onnxruntime CPU session of ``onnx_file`` using ``threads`` intra-op
    threads (default: as many as torch uses)."""
    ort = import_onnxruntime()
    _check_file(onnx_file)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    return ort.InferenceSession(
        onnx_file, options, providers=['CPUExecutionProvider'])


def openvino_config(threads: Optional[int] = None,
                    precision: str = 'f32',
                    perf_counters: bool = False) -> Dict[str, str]:
    """OpenVINO CPU settings: ``threads`` inference threads (default: as
    many as torch uses) and the inference precision. ``'f32'`` is set
    explicitly: on CPUs with bfloat16 instructions OpenVINO's default is
    bf16, which would not match the PyTorch model."""
    config = {
        'INFERENCE_NUM_THREADS': str(threads or torch.get_num_threads()),
        'INFERENCE_PRECISION_HINT': precision
    }
    if perf_counters:
        config['PERF_COUNT'] = 'YES'
    return config


class OpenVINORunner:
    """``onnx_file`` compiled by OpenVINO for the CPU, once per input shape
    (a dynamic batch is fixed to the batch at hand: OpenVINO runs static
    shapes faster).

    Args:
        onnx_file (str): The exported file.
        threads (int, optional): Inference threads; torch's count if None.
        precision (str): ``'f32'`` or ``'bf16'``. Defaults to 'f32'.
    """

    def __init__(self,
                 onnx_file: str,
                 threads: Optional[int] = None,
                 precision: str = 'f32') -> None:
        self.openvino = import_openvino()
        _check_file(onnx_file)
        self.core = self.openvino.Core()
        self.onnx_file = onnx_file
        self.config = openvino_config(threads, precision)
        self.compiled = {}

    def compile(self, shape: tuple, perf_counters: bool = False):
        """The model compiled for inputs of ``shape``."""
        key = (tuple(shape), perf_counters)
        if key not in self.compiled:
            model = self.core.read_model(self.onnx_file)
            model.reshape({model.inputs[0]: list(shape)})
            config = dict(self.config)
            if perf_counters:
                config['PERF_COUNT'] = 'YES'
            self.compiled[key] = self.core.compile_model(model, 'CPU', config)
        return self.compiled[key]

    def __call__(self, inputs: np.ndarray) -> List[np.ndarray]:
        compiled = self.compile(inputs.shape)
        results = compiled(inputs)
        return [results[output] for output in compiled.outputs]


def create_runner(onnx_file: str,
                  backend: str = 'onnxruntime',
                  threads: Optional[int] = None,
                  precision: str = 'f32') -> Runner:
    """``onnx_file`` ready to run on CPU in ``backend`` (one of
    :data:`BACKENDS`); ``precision`` (``'f32'`` or ``'bf16'``) applies to
    OpenVINO, onnxruntime runs the graph's float32."""
    if backend == 'openvino':
        return OpenVINORunner(onnx_file, threads, precision)
    if backend != 'onnxruntime':
        raise ValueError(f'Unknown backend {backend!r}: choose one of '
                         f'{BACKENDS}')
    if precision != 'f32':
        raise ValueError('onnxruntime runs these graphs in float32 on CPU; '
                         f"precision {precision!r} needs backend='openvino'")
    session = create_session(onnx_file, threads)
    name = session.get_inputs()[0].name
    return lambda inputs: session.run(None, {name: inputs})


def read_metadata(onnx_file: str) -> Dict[str, str]:
    """The metadata that :func:`export_onnx` stored in ``onnx_file``."""
    try:
        import onnx
    except ImportError as error:
        raise ImportError(
            f'Reading ONNX files needs onnx: {INSTALL_HINT}') from error
    _check_file(onnx_file)
    model = onnx.load(onnx_file, load_external_data=False)
    return {prop.key: prop.value for prop in model.metadata_props}


@MODELS.register_module()
class OnnxRuntimeModel(BaseModel):
    """A classifier or segmentor whose network runs as an exported ONNX file
    in onnxruntime or OpenVINO, with the config's preprocessing and
    post-processing.

    The PyTorch model of ``model`` is built (its weights are not used) for
    its data preprocessor and its post-processing: mmpretrain's head turns
    logits into scores and labels; mmseg's ``predict`` runs whole or
    sliding-window inference with ``encode_decode`` taken by the graph,
    then ``postprocess_result``. Results are therefore the toolbox's own
    data samples, for its evaluators and inferencers.

    Args:
        onnx_file (str): A file of ``tools/deployment/pytorch2onnx.py``.
        model (dict): The config of the model it was exported from.
        data_preprocessor (dict, optional): The config's data preprocessor,
            if ``model`` has none.
        threads (int, optional): The runtime's threads. Defaults to
            torch's thread count.
        backend (str): ``'onnxruntime'`` or ``'openvino'`` (float32).
            Defaults to 'onnxruntime'.
    """

    def __init__(self,
                 onnx_file: str,
                 model: dict,
                 data_preprocessor: Optional[dict] = None,
                 threads: Optional[int] = None,
                 backend: str = 'onnxruntime') -> None:
        super().__init__()
        model = copy.deepcopy(model)
        if data_preprocessor is not None:
            model.setdefault('data_preprocessor', data_preprocessor)
        self.model = ROOT_MODELS.build(model).eval()
        self.data_preprocessor = self.model.data_preprocessor
        self.onnx_file = onnx_file
        self.backend = backend
        self.runner = create_runner(onnx_file, backend, threads)
        metadata = read_metadata(onnx_file)
        self.task = metadata.get('task')
        if self.task == 'detector':
            raise ValueError(
                f'{onnx_file} holds the backbone and neck of a detector, '
                'not its heads: whole detectors are exported and run '
                'through mmdeploy (docs/deployment.md)')
        if self.task not in ('classifier', 'segmentor'):
            raise ValueError(
                f'{onnx_file} was not exported by mmhornet (no task in its '
                'metadata): export it with tools/deployment/pytorch2onnx.py')
        self.dataset_meta = json.loads(metadata.get('dataset_meta', '{}'))
        self.input_shape = json.loads(metadata['input_shape'])
        if self.task == 'segmentor':
            # mmseg's own inference, with the network run by the graph
            self.model.encode_decode = self.encode_decode

    def run(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of a preprocessed batch, computed by the runtime."""
        expected = self.input_shape
        actual = list(inputs.shape)
        for dim, (want, got) in enumerate(zip(expected, actual)):
            if isinstance(want, int) and want != got:
                raise ValueError(
                    f'{self.onnx_file} takes inputs of shape {expected}, got '
                    f'{actual} (dim {dim}). Export again with --shape '
                    f'{actual[2]} {actual[3]}' +
                    (' --dynamic-batch' if dim == 0 else '') +
                    '; a graph holds for one input size, so test it with '
                    'inputs of that size (e.g. sliding-window crops).')
        array = inputs.detach().float().cpu().contiguous().numpy()
        logits = self.runner(array)[0]
        return torch.from_numpy(logits).to(inputs.device)

    def encode_decode(self, inputs: torch.Tensor,
                      batch_img_metas: List[dict]) -> torch.Tensor:
        """Segmentation logits at the input size (what the graph returns)."""
        return self.run(inputs)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'predict') -> Union[torch.Tensor, list]:
        if mode == 'tensor':
            return self.run(inputs)
        if mode != 'predict':
            raise ValueError(f'{type(self).__name__} runs inference only '
                             f"(mode 'predict' or 'tensor'), not {mode!r}")
        if self.task == 'segmentor':
            return self.model.predict(inputs, data_samples)
        # mmpretrain's ClsHead.predict after the head's forward
        return self.model.head._get_predictions(self.run(inputs), data_samples)
