# Copyright (c) mmhornet contributors. All rights reserved.
import os.path as osp
from typing import Iterator, Sequence, Tuple

from mmengine.config import Config


def _data_roots(dataset: dict, key: str) -> Iterator[Tuple[str, str]]:
    """``(config key, data_root)`` of a dataset config and of the datasets
    that wrappers (RepeatDataset, ConcatDataset...) hold."""
    if not isinstance(dataset, dict):
        return
    if dataset.get('data_root'):
        yield f'{key}.data_root', dataset['data_root']
    if 'dataset' in dataset:
        yield from _data_roots(dataset['dataset'], f'{key}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _data_roots(inner, f'{key}.datasets.{i}')


def check_data_roots(cfg: Config, loaders: Sequence[str]) -> None:
    """Fail early, and clearly, when a dataloader's data root is missing.

    Args:
        cfg (Config): The config.
        loaders (Sequence[str]): Dataloader keys to check, e.g.
            ``('train_dataloader', 'val_dataloader')``; absent ones are
            skipped.

    Raises:
        FileNotFoundError: A local ``data_root`` that is not a folder.
    """
    for loader in loaders:
        if not cfg.get(loader):
            continue
        for key, root in _data_roots(cfg[loader].get('dataset'),
                                     f'{loader}.dataset'):
            if '://' not in root and not osp.isdir(root):
                raise FileNotFoundError(
                    f'The data root of {loader} does not exist: '
                    f'{osp.abspath(root)}. Prepare the dataset there, or '
                    f'point the config at it with --cfg-options '
                    f'{key}=PATH')
