# Copyright (c) mmhornet contributors. All rights reserved.
"""Build mmhornet's models by name and run inference with them.

Names resolve against mmhornet's own model index (``model-index.yml``),
kept apart from mmpretrain's ``ModelHub``: both may name a model
``hornet-tiny_3rdparty_in1k`` without either shadowing the other.
"""
import copy
import difflib
import fnmatch
import importlib
import os
import os.path as osp
from types import ModuleType
from typing import Any, Dict, List, Optional, Union

import mmcv
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from modelindex.load_model_index import load as load_model_index
from modelindex.models.Model import Model

from ..checkpoint import load_weights
from ..utils.toolbox import TOOLBOXES, import_toolbox, load_config

ModelType = Union[BaseModel, str, Config]

_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _index_root() -> str:
    """Folder holding ``model-index.yml`` and ``configs/``: the source
    checkout of an editable install, else ``.mim`` of an installed package."""
    for root in (osp.dirname(_PACKAGE_DIR), osp.join(_PACKAGE_DIR, '.mim')):
        if osp.isfile(osp.join(root, 'model-index.yml')):
            return root
    raise FileNotFoundError(
        'mmhornet model-index.yml not found in '
        f"{osp.join(_PACKAGE_DIR, '.mim')} or {osp.dirname(_PACKAGE_DIR)}")


class ModelHub:
    """mmhornet's index of published models, loaded on first use."""
    _models: Optional[Dict[str, Model]] = None

    @classmethod
    def models(cls) -> Dict[str, Model]:
        if cls._models is None:
            root = _index_root()
            index = load_model_index(osp.join(root, 'model-index.yml'))
            index.build_models_with_collections()
            models = {}
            for model in index.models:
                model.config = osp.join(root, model.config)
                models[model.name.lower()] = model
            cls._models = models
        return cls._models

    @classmethod
    def get(cls, name: str) -> Model:
        """The metadata of the model ``name`` (case-insensitive).

        Raises:
            ValueError: Unknown name; the message lists close matches.
        """
        models = cls.models()
        if name.lower() not in models:
            close = difflib.get_close_matches(name.lower(), models, n=3)
            hint = f' Did you mean {close}?' if close else ''
            raise ValueError(f'Unknown model {name!r}.{hint} '
                             '`mmhornet.apis.list_models()` lists them all.')
        return copy.deepcopy(models[name.lower()])


def list_models(pattern: Optional[str] = None,
                task: Optional[str] = None) -> List[str]:
    """Names of mmhornet's published models.

    Args:
        pattern (str, optional): Wildcard pattern, e.g. ``'*gf*'``.
        task (str, optional): Keep models evaluated on this task, e.g.
            ``'Image Classification'``.

    Returns:
        List[str]: The sorted names.
    """
    names = []
    for name, model in ModelHub.models().items():
        if pattern and not fnmatch.fnmatch(name, pattern.lower() + '*'):
            continue
        if task and task not in {r.task for r in model.results or []}:
            continue
        names.append(name)
    return sorted(names)


def _resolve(model: Union[str, Config]) -> tuple:
    """Config and metadata (None for configs) of a name, path or Config."""
    if isinstance(model, Config):
        return copy.deepcopy(model), None
    if model.endswith('.py'):
        if not osp.isfile(model):
            raise FileNotFoundError(f'Config file not found: '
                                    f'{osp.abspath(model)}')
        return load_config(model, model), None
    metainfo = ModelHub.get(model)
    return load_config(metainfo.config, model), metainfo


def _registry(scope: str, name: str) -> ModuleType:
    """The ``registry`` module of the toolbox that ``scope`` names."""
    module = f'{scope}.registry'
    if scope in TOOLBOXES:
        return import_toolbox(module, name)
    return importlib.import_module(module)


def _published_weights(model: Union[str, Config], config: Config,
                       metainfo: Optional[Model]) -> str:
    """The weights ``pretrained=True`` names: the model index's, else the
    config's ``load_from``."""
    weights = metainfo.weights if metainfo else config.get('load_from')
    if not weights:
        raise ValueError(f'No published weights for {model!r}; pass a '
                         'checkpoint path as `pretrained`.')
    return weights


def _merge_overrides(config: Config, overrides: Dict[str, Any]) -> None:
    """Merge ``overrides`` into ``config.model`` and give it the config's
    ``data_preprocessor`` unless it has its own."""
    if overrides:
        config.merge_from_dict({'model': overrides})
    config.model.setdefault('data_preprocessor',
                            config.get('data_preprocessor'))


def _onnx_file(pretrained: Union[bool, str],
               backend: Optional[str]) -> Optional[str]:
    """``pretrained`` if it is an exported ``.onnx`` file, else None;
    ``backend`` is only for such files."""
    onnx_file = pretrained if isinstance(
        pretrained, str) and pretrained.endswith('.onnx') else None
    if backend is not None and not onnx_file:
        raise ValueError(f'backend={backend!r} runs an exported .onnx file; '
                         f'pretrained={pretrained!r} is not one')
    return onnx_file


def _build(config: Config, scope: str, registry: ModuleType,
           onnx_file: Optional[str], backend: Optional[str]) -> BaseModel:
    """Build ``config.model`` in ``scope``, or the
    :class:`~mmhornet.deploy.OnnxRuntimeModel` that runs ``onnx_file`` in
    ``backend`` with the config's preprocessing and post-processing."""
    with DefaultScope.overwrite_default_scope(scope):
        if onnx_file:
            from ..deploy import OnnxRuntimeModel
            return OnnxRuntimeModel(
                onnx_file, config.model, backend=backend or 'onnxruntime')
        return registry.MODELS.build(config.model)


def _load_pretrained(net: BaseModel, pretrained: Union[bool, str],
                     onnx_file: Optional[str]) -> Dict[str, Any]:
    """Load the ``pretrained`` weights into ``net`` (an exported file holds
    its own) and return the ``dataset_meta`` they carry, if any."""
    if onnx_file:
        return net.dataset_meta
    if pretrained:
        return load_weights(net, pretrained).get('dataset_meta', {})
    return {}


def _test_dataset_meta(config: Config, scope: str,
                       registry: ModuleType) -> Dict[str, Any]:
    """The ``METAINFO`` of the config's test dataset class."""
    with DefaultScope.overwrite_default_scope(scope):
        dataset_class = registry.DATASETS.get(
            config.test_dataloader.dataset.type)
    return dict(getattr(dataset_class, 'METAINFO', {}))


def get_model(model: Union[str, Config],
              pretrained: Union[bool, str] = False,
              device: Union[str, torch.device, None] = None,
              backend: Optional[str] = None,
              **kwargs) -> BaseModel:
    """Build a model from a model name, a config file or a Config.

    Args:
        model (str | Config): A name from :func:`list_models`, a config
            path or a :class:`Config`.
        pretrained (bool | str): ``True`` loads the published weights (or
            the config's ``load_from``); a string is a checkpoint path or
            URL; ``False`` keeps the initial weights. Weights load strictly:
            a checkpoint that does not fit the model is an error. Official
            classification (weights under ``model``), detection and
            segmentation checkpoints (raoyongming/HorNet) are converted to
            mmhornet's keys on the way. An ``.onnx`` file
            exported from this model gives an :class:`OnnxRuntimeModel`
            that runs it in onnxruntime with the config's preprocessing
            and post-processing. Defaults to False.
        backend (str, optional): The runtime of an ``.onnx`` file:
            ``'onnxruntime'`` (if None) or ``'openvino'``.
        device (str | torch.device, optional): Where to put the model.
            Defaults to None (CPU).
        **kwargs: Overrides merged into ``config.model``, e.g.
            ``backbone=dict(out_indices=(0, 1, 2, 3))``.

    Returns:
        BaseModel: The model in eval mode, with ``dataset_meta``.
    """
    config, metainfo = _resolve(model)
    if pretrained is True:
        pretrained = _published_weights(model, config, metainfo)
    _merge_overrides(config, kwargs)
    scope = config.get('default_scope', 'mmpretrain')
    registry = _registry(
        scope,
        model if isinstance(model, str) else f'A config of scope {scope!r}')
    onnx_file = _onnx_file(pretrained, backend)
    net = _build(config, scope, registry, onnx_file, backend)
    dataset_meta = _load_pretrained(net, pretrained, onnx_file)
    if not dataset_meta and config.get('test_dataloader'):
        dataset_meta = _test_dataset_meta(config, scope, registry)
    net._dataset_meta = net.dataset_meta = dataset_meta
    net.cfg = net._config = config  # ``cfg``: as mmdet/mmseg's init_*
    net._metainfo = metainfo
    if device is not None:
        net.to(device)
    return net.eval()


def _predict_dense(model: BaseModel, scope: str, inputs: Any,
                   show_dir: Optional[str]) -> Any:
    """mmdet's or mmseg's single-image inference, drawn into ``show_dir``
    with the toolbox's visualizer when it is given."""
    with DefaultScope.overwrite_default_scope(scope):
        if scope == 'mmdet':
            from mmdet.apis import inference_detector
            from mmdet.visualization import DetLocalVisualizer as Visualizer
            result = inference_detector(model, inputs)
        else:
            from mmseg.apis import inference_model as inference_segmentor
            from mmseg.visualization import SegLocalVisualizer as Visualizer
            result = inference_segmentor(model, inputs)
    if show_dir is not None:
        if isinstance(inputs, str):
            image = mmcv.imread(inputs, channel_order='rgb')
            name = osp.basename(inputs)
        else:  # a BGR array, as OpenCV reads it
            image, name = mmcv.bgr2rgb(inputs), 'image.png'
        os.makedirs(show_dir, exist_ok=True)
        visualizer = Visualizer(name=f'mmhornet-{scope}-{id(result)}')
        visualizer.dataset_meta = model.dataset_meta
        visualizer.add_datasample(
            name,
            image,
            result,
            draw_gt=False,
            show=False,
            out_file=osp.join(show_dir, name))
    return result


def _classify(model: BaseModel, inputs: Any, **kwargs) -> dict:
    """mmpretrain's inferencer on one input. A config without test data
    (the ImageNet-22k ones) is run with its ``test_pipeline``."""
    from mmpretrain.apis import ImageClassificationInferencer

    class Inferencer(ImageClassificationInferencer):

        def _init_pipeline(self, cfg: Config):
            if cfg.get('test_dataloader') is None:
                cfg = Config(
                    dict(
                        test_dataloader=dict(
                            dataset=dict(pipeline=cfg.test_pipeline))))
            return super()._init_pipeline(cfg)

    return Inferencer(model)(inputs, **kwargs)[0]


def inference_model(model: ModelType, inputs: Any, **kwargs) -> Any:
    """Run a model on one input, e.g. an image path or array.

    Args:
        model (BaseModel | str | Config): A model from :func:`get_model`, a
            model name or a config (then built with its published weights,
            or ``pretrained=...`` from ``kwargs``).
        inputs: The input, e.g. ``'demo/cat.jpg'`` or a numpy image.
        **kwargs: ``pretrained``, ``device`` and ``backend`` (of an
            ``.onnx`` file) when building; ``show_dir``
            saves a visualisation there; the rest go to mmpretrain's
            inferencer call (classification).

    Returns:
        The toolbox's prediction: for classification a dict with
        ``pred_label``, ``pred_score``, ``pred_class`` and ``pred_scores``;
        for detection mmdet's ``DetDataSample`` (``pred_instances`` with
        ``bboxes``, ``scores``, ``labels`` and ``masks``); for segmentation
        mmseg's ``SegDataSample`` (``pred_sem_seg``).
    """
    is_local_path = isinstance(inputs, str) and '://' not in inputs
    if is_local_path and not osp.isfile(inputs):
        raise FileNotFoundError(f'Input image not found: '
                                f'{osp.abspath(inputs)}')
    if not isinstance(model, BaseModel):
        model = get_model(
            model,
            pretrained=kwargs.pop('pretrained', True),
            device=kwargs.pop('device', None),
            backend=kwargs.pop('backend', None))
    config = getattr(model, 'cfg', None)
    if config is None:
        raise ValueError('inference_model needs a model from get_model (or '
                         'one with its config as `model.cfg`).')
    scope = config.get('default_scope', 'mmpretrain')
    if scope in TOOLBOXES:
        import_toolbox(scope, 'inference_model')
    if scope == 'mmpretrain':
        return _classify(model, inputs, **kwargs)
    if scope in ('mmdet', 'mmseg'):
        show_dir = kwargs.pop('show_dir', None)
        if kwargs:
            raise TypeError(f'Unexpected arguments for {scope}: '
                            f'{sorted(kwargs)}')
        return _predict_dense(model, scope, inputs, show_dir)
    raise NotImplementedError(f'No inference for models of {scope!r}')
