# Copyright (c) mmhornet contributors. All rights reserved.
"""ONNX export of classifiers, segmentors and detector features.

An exported graph takes what the model's ``forward`` takes in tensor mode,
a preprocessed ``(N, 3, H, W)`` float batch, and returns logits:
``(N, num_classes)`` for an mmpretrain classifier, ``(N, num_classes, H,
W)`` at the input size for an mmseg segmentor (what ``encode_decode``
returns). Preprocessing and post-processing stay with the config, as in
mmdeploy, so the toolboxes' evaluators and inferencers can run the file.
For an mmdet detector the graph is its backbone and neck (``extract_feat``,
one output per level): whole detectors go through mmdeploy
(docs/deployment.md).
"""
import json
from types import ModuleType
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from .graph import channels_first_layer_norms
from .runtime import INSTALL_HINT, create_runner

#: ``--verify`` tolerances: max |onnx - torch| / max |torch|.
VERIFY_TOLERANCE = dict(classifier=1e-5, segmentor=1e-4, detector=1e-4)


class ClassifierLogits(nn.Module):
    """``model(inputs, mode='tensor')`` of an mmpretrain classifier: logits
    ``(N, num_classes)``."""

    def __init__(self, model: BaseModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs, mode='tensor')


class SegmentorLogits(nn.Module):
    """``model.encode_decode`` of an mmseg segmentor: logits ``(N,
    num_classes, H, W)`` at the input size."""

    def __init__(self, model: BaseModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        size = inputs.shape[2:]
        metas = [dict(img_shape=size, pad_shape=size, ori_shape=size)]
        return self.model.encode_decode(inputs, metas)


class DetectorFeatures(nn.Module):
    """``model.extract_feat`` of an mmdet detector: the backbone and neck
    maps, one output per level (the detection heads are not exported)."""

    def __init__(self, model: BaseModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.model.extract_feat(inputs))


def model_task(model: BaseModel) -> str:
    """``'classifier'``, ``'segmentor'`` or ``'detector'``."""
    if hasattr(model, 'encode_decode') and hasattr(model, 'decode_head'):
        return 'segmentor'
    if any(
            hasattr(model, head)
            for head in ('rpn_head', 'roi_head', 'bbox_head')):
        return 'detector'
    if hasattr(model, 'head') and hasattr(model, 'extract_feat'):
        return 'classifier'
    raise TypeError(
        f'ONNX export covers mmpretrain classifiers, mmseg segmentors and '
        f'the features of mmdet detectors, not {type(model).__name__}')


def eval_input_shape(cfg) -> Tuple[int, int]:
    """The ``(H, W)`` a config's model is evaluated at, the default size of
    an export: a segmentor's test crop, else the size of the test
    pipeline's last ``CenterCrop`` or fixed-size ``Resize`` (224 for the
    ImageNet configs, 384 for the 384-px ones). Detectors and whole-image
    segmentors resize keeping the aspect ratio, so they have none.

    Raises:
        ValueError: if neither fixes a size (give it explicitly).
    """
    crop = (cfg.model.get('test_cfg') or {}).get('crop_size')
    if crop:
        return tuple(crop)
    pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.get(
        'pipeline', [])
    for transform in reversed(pipeline):
        kind = getattr(transform['type'], '__name__', transform['type'])
        size = dict(
            CenterCrop=transform.get('crop_size'),
            Resize=None if transform.get('keep_ratio') else
            transform.get('scale')).get(kind)
        if isinstance(size, int):
            return size, size
        if size is not None:  # mmcv's Resize takes (w, h)
            return tuple(size[::-1]) if kind == 'Resize' else tuple(size)
    raise ValueError('The config fixes no test input size (no test_cfg '
                     'crop_size, CenterCrop or fixed-size Resize in the '
                     'test pipeline): give the export shape explicitly.')


def tensor_forward(model: BaseModel) -> nn.Module:
    """The module whose graph is exported: logits of a preprocessed batch,
    or a detector's backbone and neck features."""
    module = dict(
        classifier=ClassifierLogits,
        segmentor=SegmentorLogits,
        detector=DetectorFeatures)[model_task(model)]
    return module(model).eval()


def _import_onnx() -> ModuleType:
    """``onnx``, after checking that ``onnxscript`` (which
    ``torch.onnx.export(..., dynamo=True)`` needs) imports too."""
    try:
        import onnx
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ImportError('ONNX export needs onnx and onnxscript: '
                          f'{INSTALL_HINT}') from error
    return onnx


def _output_names(task: str, module: nn.Module,
                  inputs: torch.Tensor) -> List[str]:
    """``logits`` or ``seg_logits``, or ``feats_{i}`` for each of a
    detector's feature levels (counted by running ``module`` once)."""
    if task != 'detector':
        return ['logits' if task == 'classifier' else 'seg_logits']
    with torch.no_grad():
        levels = len(module(inputs[:1]))
    return [f'feats_{i}' for i in range(levels)]


def _export_program(module: nn.Module, inputs: torch.Tensor,
                    output_names: List[str], opset: Optional[int],
                    dynamic_batch: bool) -> torch.onnx.ONNXProgram:
    """``torch.onnx.export(..., dynamo=True)`` of ``module`` on ``inputs``:
    the ONNX program, not yet saved."""
    with torch.no_grad():
        return torch.onnx.export(
            module, (inputs, ),
            dynamo=True,
            verbose=False,
            input_names=['inputs'],
            output_names=output_names,
            opset_version=opset,
            dynamic_shapes=({
                0: torch.export.Dim('batch')
            }, ) if dynamic_batch else None,
            external_data=False)


def _metadata(model: BaseModel, task: str, shape: Tuple[int, int],
              batch_size: Union[int, str]) -> Dict[str, str]:
    """The file's metadata for :class:`~mmhornet.deploy.OnnxRuntimeModel`:
    the task, the model's ``dataset_meta`` and the input shape, as
    strings."""
    return dict(
        task=task,
        dataset_meta=json.dumps(
            _jsonable(getattr(model, 'dataset_meta', None) or {})),
        input_shape=json.dumps([batch_size, 3, *shape]))


def export_onnx(model: BaseModel,
                output_file: str,
                shape: Tuple[int, int] = (224, 224),
                batch_size: int = 1,
                dynamic_batch: bool = False,
                opset: Optional[int] = None) -> str:
    """Export ``model`` (from :func:`mmhornet.get_model`) to ONNX.

    Uses ``torch.onnx.export(..., dynamo=True)``. Global filters are traced
    in their matrix-product form (:func:`spectral_filter_matmul`), so the
    graph has no DFT or complex-valued op. Graphs hold for the traced
    height and width (a global filter's DFT matrices and UPerNet's pyramid
    pooling depend on them); the batch size may vary. The task, the input
    shape and the model's ``dataset_meta`` are stored in the file's
    metadata, for :class:`OnnxRuntimeModel`. Channels-first layer norms
    are written over the channel axis rather than as transposes around a
    ``LayerNormalization`` (:func:`channels_first_layer_norms`), the form
    OpenVINO runs faster.

    Args:
        model (BaseModel): A classifier, segmentor or detector (its
            backbone and neck are exported) in eval mode.
        output_file (str): Where to write the ``.onnx`` file.
        shape (tuple[int, int]): Input height and width. Defaults to
            (224, 224).
        batch_size (int): Batch size of a static graph. Defaults to 1.
        dynamic_batch (bool): Let the batch size vary. Defaults to False.
        opset (int, optional): ONNX opset; torch's default if None.

    Returns:
        str: ``output_file``.
    """
    onnx = _import_onnx()
    task = model_task(model)
    module = tensor_forward(model)
    if dynamic_batch:
        # traced at batch 2: torch.export specialises a size of 1
        batch_size = 2
    inputs = torch.rand(batch_size, 3, *shape)
    output_names = _output_names(task, module, inputs)
    program = _export_program(module, inputs, output_names, opset,
                              dynamic_batch)
    program.model.metadata_props.update(
        _metadata(model, task, shape,
                  'batch' if dynamic_batch else batch_size))
    program.save(output_file)
    graph = onnx.load(output_file)
    if channels_first_layer_norms(graph):
        onnx.save(graph, output_file)
    return output_file


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and dict keys as
    strings, for ``json.dumps``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic, )):
        return value.item()
    return value


def verify_onnx(model: BaseModel,
                onnx_file: str,
                shape: Sequence[int],
                batch_size: int = 1,
                tolerance: Optional[float] = None,
                seed: int = 0,
                backend: str = 'onnxruntime') -> float:
    """Run ``onnx_file`` in ``backend`` (onnxruntime or OpenVINO, float32)
    and ``model`` in PyTorch on the same random batch and compare.

    Returns:
        float: ``max |onnx - torch| / max |torch|`` (the largest over the
        outputs: a detector's feature levels).

    Raises:
        AssertionError: The difference is above ``tolerance`` (default:
            1e-5 for classifiers, 1e-4 for segmentation logits and detector
            features).
    """
    task = model_task(model)
    tolerance = VERIFY_TOLERANCE[task] if tolerance is None else tolerance
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, 3, *shape, generator=generator)
    with torch.no_grad():
        expected = tensor_forward(model)(inputs)
    if isinstance(expected, torch.Tensor):
        expected = (expected, )
    actual = create_runner(onnx_file, backend)(inputs.numpy())
    error = 0.
    for ours, ref in zip(actual, expected, strict=True):
        ref = ref.float().numpy()
        if ours.shape != ref.shape:
            raise AssertionError(f'{onnx_file}: output shape {ours.shape}, '
                                 f'PyTorch gives {ref.shape}')
        error = max(
            error,
            float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30)))
    if not error <= tolerance:
        raise AssertionError(
            f'{onnx_file} in {backend} differs from PyTorch by {error:.3g} '
            f'(max abs '
            f'difference / max abs output) on a random {tuple(inputs.shape)} '
            f'input, above the tolerance {tolerance:g}')
    return error
