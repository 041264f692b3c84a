# Copyright (c) mmhornet contributors. All rights reserved.
"""Rewrites of exported ONNX graphs into forms that runtimes run faster.

mmhornet's ``LayerNorm2d`` normalises an (N, C, H, W) map with one fused
layer norm over its channels-last view; exported, that is ``Transpose ->
LayerNormalization -> Transpose``. Eager PyTorch gains from it, but
OpenVINO runs both transposes as copies and re-lays out the tensors around
them (docs/deployment.md, "Channels-first layer norms", counts them).
:func:`channels_first_layer_norms` writes such norms as the channel-axis
reductions that mmpretrain's code exports to.
"""
from typing import Dict, List

import numpy as np

#: Permutations to and from the channels-last view of an (N, C, H, W) map.
TO_CHANNELS_LAST = [0, 2, 3, 1]
TO_CHANNELS_FIRST = [0, 3, 1, 2]


def _attribute(node, name: str, default=None):
    import onnx
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _channel_norm_nodes(x: str, scale: str, bias: str, out: str, eps: float,
                        prefix: str, opset: int) -> tuple:
    """Nodes and constants computing the layer norm of ``x`` over axis 1:
    ``(x - mean) / sqrt(var + eps) * scale + bias`` (biased variance)."""
    from onnx import helper, numpy_helper

    def name(suffix: str) -> str:
        return f'{prefix}/{suffix}'

    constants = [
        numpy_helper.from_array(np.array(eps, np.float32), name('eps')),
        numpy_helper.from_array(np.array(2.0, np.float32), name('two')),
        numpy_helper.from_array(
            np.array([-1, 1, 1], np.int64), name('per_channel'))
    ]

    def mean(source: str, target: str):
        if opset >= 18:  # axes became an input in opset 18
            constants.append(
                numpy_helper.from_array(
                    np.array([1], np.int64), name(f'{target}_axes')))
            return helper.make_node(
                'ReduceMean', [source, name(f'{target}_axes')], [name(target)],
                keepdims=1,
                name=name(target))
        return helper.make_node(
            'ReduceMean', [source], [name(target)],
            axes=[1],
            keepdims=1,
            name=name(target))

    def node(op: str, inputs: List[str], target: str):
        return helper.make_node(op, inputs, [target], name=target)

    nodes = [
        mean(x, 'mean'),
        node('Sub', [x, name('mean')], name('centred')),
        node('Pow', [name('centred'), name('two')], name('squared')),
        mean(name('squared'), 'var'),
        node('Add', [name('var'), name('eps')], name('var_eps')),
        node('Sqrt', [name('var_eps')], name('std')),
        node('Div', [name('centred'), name('std')], name('normed')),
        node('Reshape', [scale, name('per_channel')], name('scale')),
        node('Mul', [name('normed'), name('scale')], name('scaled')),
        node('Reshape', [bias, name('per_channel')], name('bias')),
        node('Add', [name('scaled'), name('bias')], out),
    ]
    return nodes, constants


def channels_first_layer_norms(model) -> int:
    """Rewrite each ``Transpose(0, 2, 3, 1) -> LayerNormalization(last
    axis) -> Transpose(0, 3, 1, 2)`` chain of ``model`` (an
    ``onnx.ModelProto``, changed in place) as a layer norm over axis 1 of
    the untransposed map. The same arithmetic up to float rounding.

    Returns:
        int: The number of norms rewritten.
    """
    graph = model.graph
    opset = next(
        (o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')),
        18)
    all_nodes = list(graph.node)  # one Python object per node, for ids
    consumers: Dict[str, list] = {}
    for node in all_nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    def only_consumer(tensor: str):
        found = consumers.get(tensor, [])
        if len(found) == 1 and tensor not in outputs:
            return found[0]
        return None

    replaced, new_nodes, constants = set(), {}, []
    for first in all_nodes:
        if (first.op_type != 'Transpose'
                or list(_attribute(first, 'perm', [])) != TO_CHANNELS_LAST):
            continue
        norm = only_consumer(first.output[0])
        if (norm is None or norm.op_type != 'LayerNormalization'
                or _attribute(norm, 'axis', -1) not in (-1, 3)
                or len(norm.input) != 3 or len(norm.output) != 1):
            continue
        last = only_consumer(norm.output[0])
        if (last is None or last.op_type != 'Transpose'
                or list(_attribute(last, 'perm', [])) != TO_CHANNELS_FIRST):
            continue
        nodes, consts = _channel_norm_nodes(
            first.input[0], norm.input[1], norm.input[2], last.output[0],
            _attribute(norm, 'epsilon', 1e-5),
            f'channels_first_norm_{len(new_nodes)}', opset)
        replaced.update({id(first), id(norm), id(last)})
        new_nodes[id(last)] = nodes
        constants += consts
    if not new_nodes:
        return 0
    kept = []
    for node in all_nodes:
        if id(node) in new_nodes:
            kept += new_nodes[id(node)]
        elif id(node) not in replaced:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(constants)
    return len(new_nodes)
