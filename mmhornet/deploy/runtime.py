# Copyright (c) mmhornet contributors. All rights reserved.
"""Run exported ONNX files in the toolboxes with onnxruntime."""
import copy
import json
import os.path as osp
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS as ROOT_MODELS

from mmhornet.registry import MODELS

INSTALL_HINT = ('pip install "mmhornet[deploy]" (or: pip install onnx '
                'onnxruntime onnxscript)')


def import_onnxruntime():
    """Import onnxruntime, or say how to install it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            f'Running ONNX files needs onnxruntime: {INSTALL_HINT}') from error
    return onnxruntime


def create_session(onnx_file: str, threads: Optional[int] = None):
    """An onnxruntime CPU session of ``onnx_file`` using ``threads`` intra-op
    threads (default: as many as torch uses)."""
    ort = import_onnxruntime()
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(
            f'ONNX file not found: {osp.abspath(onnx_file)}')
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    return ort.InferenceSession(
        onnx_file, options, providers=['CPUExecutionProvider'])


@MODELS.register_module()
class OnnxRuntimeModel(BaseModel):
    """A classifier or segmentor whose network runs as an exported ONNX file
    in onnxruntime, with the config's preprocessing and post-processing.

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
        threads (int, optional): onnxruntime intra-op threads. Defaults to
            torch's thread count.
    """

    def __init__(self,
                 onnx_file: str,
                 model: dict,
                 data_preprocessor: Optional[dict] = None,
                 threads: Optional[int] = None) -> None:
        super().__init__()
        model = copy.deepcopy(model)
        if data_preprocessor is not None:
            model.setdefault('data_preprocessor', data_preprocessor)
        self.model = ROOT_MODELS.build(model).eval()
        self.data_preprocessor = self.model.data_preprocessor
        self.onnx_file = onnx_file
        self.session = create_session(onnx_file, threads)
        metadata = self.session.get_modelmeta().custom_metadata_map
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
        """Logits of a preprocessed batch, computed by onnxruntime."""
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
        feed = {
            self.session.get_inputs()[0].name:
            inputs.detach().float().cpu().contiguous().numpy()
        }
        logits = self.session.run(None, feed)[0]
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
