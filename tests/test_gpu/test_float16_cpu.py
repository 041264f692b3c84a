# Copyright (c) mmhornet contributors. All rights reserved.
"""The CPU part of the GPU check: every shipped model family takes a
float16-autocast training step with a loss scaler on the CPU (mmhornet's
AmpOptimWrapper with dtype='float16': autocast float16 and
``torch.amp.GradScaler('cpu')``), finite and close to the float32 step
from the same weights on the same batch.

Metrics: the loss, ``|L16 - L32| / |L32|``; the update of all weights
(plain SGD, lr 1, so it is the unscaled, clipped gradient),
``||d16 - d32|| / ||d32||`` over the weights taken as one vector. See
:data:`LOSS_BOUND` and :data:`UPDATE_BOUND` for the bounds and where they
come from.
"""
import copy
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmhornet.engine.optimizers.amp_optim_wrapper import _has_accelerator
from ..test_det.tiny_config import TINY_ARCH, tiny_config
from .conftest import gpu_check

#: Float16's unit roundoff is 2^-11 (4.9e-4). Measured here (2-core AMD
#: EPYC Zen 3, AVX2) over the seven families: loss differences 6e-8 to
#: 2.1e-4 (largest: the GF classifier), update differences 9e-4
#: (classifiers), 7e-3 (detectors) and 2.6e-2 (UPerNets, whose gradients
#: pass through BN and upsampling). The bounds are about ten and four times
#: the largest measured. Defects they catch: gradients left scaled by the
#: loss scale (off by a factor 65536), autocast not applied (differences
#: exactly 0, and the first convolution's output float32), a skipped step
#: that still moved the weights.
LOSS_BOUND = 2e-3
UPDATE_BOUND = 0.1

CLS_ARCHES = {
    'cls-7x7':
    dict(
        base_dim=8,
        depths=[1, 1, 1, 1],
        orders=[2, 2, 3, 3],
        dw_cfg=[dict(type='DW', kernel_size=7)] * 4),
    'cls-gf':
    TINY_ARCH,
}
DET_CONFIGS = {
    'mask-rcnn':
    'configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
    'mask-rcnn-horfpn-gf':
    'configs/mask_rcnn/mask-rcnn_hornet-s_horfpn-gf_1x_coco.py',
    'cascade-mask-rcnn-gf':
    'configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t-gf_fpn_3x_coco.py',
}
SEG_CONFIGS = {
    'upernet': 'tests/data/upernet_hornet-nano_tiny-ade.py',
    'upernet-gnconv-head':
    'tests/data/upernet-horfpn-gf_hornet-nano_tiny-ade.py',
}
# detectors and segmentors take 10 s to minutes on a shared 2-core machine
FAMILIES = [
    *CLS_ARCHES, *(pytest.param(family, marks=pytest.mark.slow)
                   for family in [*DET_CONFIGS, *SEG_CONFIGS])
]


def family_config(family: str, tmp_path) -> Config:
    """The family's shipped config at CPU-test size, with plain SGD (lr 1,
    no momentum or decay: the update is the gradient) through the config's
    optimizer constructor and gradient clipping."""
    if family in CLS_ARCHES:
        cfg = gpu_check.load_cfg(
            'configs/hornet/hornet-tiny-gf_8xb128_in1k.py' if family ==
            'cls-gf' else gpu_check.CLASSIFIER)
        cfg.model.backbone.arch = CLS_ARCHES[family]
        cfg.model.head.update(in_channels=64, num_classes=10)
        cfg.model.data_preprocessor = dict(
            cfg.get('data_preprocessor', {}), num_classes=10)
    elif family in DET_CONFIGS:
        cfg = Config.fromfile(
            tiny_config(DET_CONFIGS[family], str(tmp_path), str(tmp_path)))
        every_box(cfg.model.train_cfg)
    else:
        cfg = gpu_check.load_cfg(SEG_CONFIGS[family])
    # Stochastic depth off: its masks are drawn in the activations' dtype,
    # so the two steps would drop different blocks.
    cfg.model.backbone.drop_path_rate = 0.
    cfg.optim_wrapper.optimizer = dict(
        type='SGD', lr=1.0, momentum=0., weight_decay=0.)
    return cfg


def every_box(train_cfg: Config) -> None:
    """Make a detector's training targets independent of float rounding:
    every anchor becomes a proposal (no NMS suppression, no top-k) and the
    samplers take every candidate. Otherwise the float16 and float32 steps
    may keep or sample different boxes (NMS and top-k order by scores that
    differ in the last bits), and the comparison would measure that."""
    train_cfg.rpn.sampler.num = 10**6
    train_cfg.rpn_proposal.update(
        nms_pre=10**6,
        max_per_img=10**6,
        nms=dict(type='nms', iou_threshold=1.0))
    rcnns = train_cfg.rcnn
    for rcnn in rcnns if isinstance(rcnns, (list, tuple)) else [rcnns]:
        rcnn.sampler.num = 10**6


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def one_step(cfg: Config, data: dict, amp_dtype, max_tries: int = 20):
    """Loss and weight update of one applied training step from the weights
    of seed 0, and the autocast dtype the first convolution ran in. A
    dynamic loss scaler may skip steps (inf/NaN gradients) while it lowers
    its scale; they must leave the weights untouched."""
    seed_all(0)
    model = gpu_check.build_train_model(cfg, 'cpu')
    wrapper = gpu_check.build_optim_wrapper(model, cfg, amp_dtype)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    dtypes = []
    conv.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    start = [p.detach().clone() for p in model.parameters()]
    for _ in range(max_tries):
        scale = wrapper.loss_scaler.get_scale() if amp_dtype else None
        seed_all(1)
        # a copy: data preprocessors write into the data samples
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
        delta = [p.detach() - s for p, s in zip(model.parameters(), start)]
        if amp_dtype is None or wrapper.loss_scaler.get_scale() >= scale:
            return float(log_vars['loss']), delta, dtypes[0], wrapper
        assert all(not d.any() for d in delta), 'a skipped step moved weights'
    raise AssertionError(f'the loss scaler skipped {max_tries} steps')


@pytest.mark.skipif(_has_accelerator(), reason='the CPU-only path')
@pytest.mark.parametrize('family', FAMILIES)
def test_float16_training_step_on_cpu(family, tmp_path):
    cfg = family_config(family, tmp_path)
    # Detectors: small images, as every anchor is a proposal, and one image
    # for Cascade (its three convolutional box heads on every proposal take
    # minutes in float16 on CPUs without native float16)
    size = dict(cls=(32, 32), mas=(32, 64), cas=(32, 64), upe=(64, 64))
    height, width = size[family[:3]]
    num = 1 if family.startswith('cascade') else 2
    data = gpu_check.task_batch(cfg, num, height, width, seed=0)

    loss32, delta32, dtype32, _ = one_step(cfg, data, None)
    loss16, delta16, dtype16, wrapper = one_step(cfg, data, 'float16')
    assert dtype32 == torch.float32 and dtype16 == torch.float16
    assert isinstance(wrapper.loss_scaler, torch.amp.GradScaler)
    scale = wrapper.loss_scaler.get_scale()
    assert scale > 1  # the gradients were scaled, then unscaled
    assert np.isfinite(loss16)
    assert all(torch.isfinite(d).all() for d in delta16)
    loss_error = abs(loss16 - loss32) / abs(loss32)
    update_error = gpu_check.relative_l2(delta16, delta32)
    print(f'{family}: loss {loss32:.6g} / {loss16:.6g} ({loss_error:.2e}), '
          f'update {update_error:.2e}, loss scale {scale:g}')
    assert loss_error <= LOSS_BOUND
    assert 0 < update_error <= UPDATE_BOUND
