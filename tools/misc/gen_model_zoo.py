# Copyright (c) mmhornet contributors. All rights reserved.
"""Write the model-zoo tables of the READMEs from the metafiles.

Each README holds its table between ``<!-- model-zoo:COLLECTION -->`` and
``<!-- /model-zoo -->``. Run this after editing a metafile; ``--check``
exits 1 if a table is out of date (the tests use it).

Example:
    python tools/misc/gen_model_zoo.py [--check]
"""
import argparse
import glob
import os.path as osp
import re
import sys
from typing import List

from modelindex.load_model_index import load as load_model_index

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
READMES = ['README.md'] + sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'README.md')))
BLOCK = re.compile(r'(<!-- model-zoo:(.+?) -->\n)(.*?)(<!-- /model-zoo -->)',
                   re.S)


def model_zoo_table(collection: str) -> str:
    """A markdown table of the models of ``collection``: parameters, FLOPs
    and every metric of their results (e.g. top-1, box AP, mIoU)."""
    index = load_model_index(osp.join(REPO_ROOT, 'model-index.yml'))
    index.build_models_with_collections()
    models = [m for m in index.models if m.in_collection == collection]
    metric_names: List[str] = []
    for model in models:
        for result in model.results or []:
            metric_names += [
                n for n in result.metrics if n not in metric_names
            ]
    lines = [
        '| Model | Params (M) | FLOPs (G) | ' +
        ''.join(f'{name} | ' for name in metric_names) + 'Config | Download |',
        '| --- ' * (5 + len(metric_names)) + '|'
    ]
    for model in models:
        metrics = {}
        for result in model.results or []:
            metrics.update(result.metrics)
        values = ''.join(
            f'{metrics[name]:.2f} | ' if name in metrics else '- | '
            for name in metric_names)
        download = f'[model]({model.weights})' if model.weights else '-'
        size = [
            '-' if value is None else
            f'{value / 1e6:.2f}' if unit == 'M' else f'{value / 1e9:.2f}'
            for value, unit in ((model.metadata.parameters, 'M'),
                                (model.metadata.flops, 'G'))
        ]
        lines.append(f'| {model.name} | {size[0]} | {size[1]} | {values}'
                     f'[config](/{model.config}) | {download} |')
    return '\n'.join(lines) + '\n'


def update(text: str) -> str:
    return BLOCK.sub(
        lambda m: m.group(1) + model_zoo_table(m.group(2)) + m.group(4), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--check', action='store_true', help='only report stale tables')
    args = parser.parse_args()
    stale: List[str] = []
    for readme in READMES:
        path = osp.join(REPO_ROOT, readme)
        with open(path, encoding='utf-8') as f:
            text = f.read()
        new_text = update(text)
        if new_text != text:
            stale.append(readme)
            if not args.check:
                with open(path, 'w', encoding='utf-8') as f:
                    f.write(new_text)
    if args.check and stale:
        sys.exit(f'Out-of-date model-zoo tables in {stale}: run '
                 'python tools/misc/gen_model_zoo.py')
    print('updated: ' + ', '.join(stale) if stale else 'up to date')


if __name__ == '__main__':
    main()
