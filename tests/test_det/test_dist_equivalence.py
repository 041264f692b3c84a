# Copyright (c) mmhornet contributors. All rights reserved.
"""A detector with SyncBN heads (Cascade Mask R-CNN, as shipped) trained by
two gloo processes ends with the weights of one process that accumulates
the same per-image gradients.

On CPUs SyncBN becomes per-process BN, and mmdet normalises each loss by
the process's own sample counts (DDP then averages the per-process
gradients), so two processes with batch B do not compute what one process
with batch 2B computes. They do compute what one process computes when it
sees the same images one at a time and averages two images' gradients
before each step (``optim_wrapper.accumulative_counts=2``, which divides
each loss by 2), provided nothing random is drawn: no shuffling (rank r
trains on images r, r + 2, ...; step k on images 2k and 2k + 1 in every
run), no augmentation, no stochastic depth, and samplers that keep every
candidate. Batch-norm statistics stay per process: the checkpoint holds
rank 0's, which saw half the images, so they are not compared.
"""
import functools
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmhornet.checkpoint import load_checkpoint_file
from ..conftest import REPO_ROOT, run_tool
from ..test_tools.test_dist import free_port
from .tiny_config import tiny_config

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

CONFIG = ('configs/cascade_mask_rcnn/'
          'cascade-mask-rcnn_hornet-t-gf_fpn_3x_coco.py')
NUM_IMAGES = 8  # the tiny_coco training split
STEPS = NUM_IMAGES // 2  # optimizer steps per epoch: two images a step
# Every training process gets half the cores: torchrun's two processes on
# one node share them (mmhornet gives each cores // 2 threads), each of the
# two one-process "nodes" is pinned to its half (else each would take all),
# and the one process runs as many threads. Besides keeping the two-node
# run from oversubscribing the cores, this makes the kernels sum in the
# same order in every run.
_CPUS = sorted(os.sched_getaffinity(0))
_HALF = max(1, len(_CPUS) // 2)
CPU_HALVES = (_CPUS[:_HALF], _CPUS[-_HALF:])


def equivalence_config(data_root: str, out_dir: str) -> str:
    """The tiny Cascade Mask R-CNN config (SyncBN in its bbox heads) with
    everything random taken out, and SGD.

    - training images in file order (no shuffling), only resized (no flip,
      no random resize or crop), to 160x128: a multiple of 32, so nothing
      is padded;
    - no stochastic depth;
    - samplers that take every candidate: mmdet's RandomSampler draws only
      when there are more positives (negatives) than it expects. The RPN
      sees at most 5118 anchors (3 at each position of strides 4 to 64):
      16384 with half positives takes them all. The R-CNN stages see at
      most 64 proposals and 3 ground truths: 512 with a quarter positives
      takes them all;
    - no iteration-based warm-up: mmengine's schedulers count iterations,
      not optimizer steps, so under gradient accumulation a warm-up would
      advance twice as fast per step. The epoch-based steps remain;
    - SGD with momentum instead of AdamW: its step is linear in the
      gradient, so a sum instead of a mean, or images weighted otherwise,
      changes the weights; AdamW's normalised step would hide a uniform
      scale. (Why no padding: on zero padding the stem convolution gives
      the same value in every channel, the channel LayerNorm's gradient
      there is scaled by 1 / sqrt(eps), and SGD blows the stem bias up.)

    Returns:
        str: The path of the written config.
    """
    cfg = Config.fromfile(tiny_config(CONFIG, data_root, out_dir))
    assert cfg.model.roi_head.bbox_head[0].norm_cfg.type == 'SyncBN'
    cfg.model.backbone.drop_path_rate = 0.
    train_cfg = cfg.model.train_cfg
    train_cfg.rpn.sampler.update(num=16384, pos_fraction=0.5)
    train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
    for rcnn in train_cfg.rcnn:
        rcnn.sampler.update(num=512, pos_fraction=0.25)
    loader = cfg.train_dataloader
    loader.sampler.shuffle = False
    loader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(160, 128), keep_ratio=True),
        dict(type='PackDetInputs')
    ]
    schedulers = [s for s in cfg.param_scheduler if s.get('by_epoch', True)]
    assert len(schedulers) == len(cfg.param_scheduler) - 1
    cfg.param_scheduler = schedulers
    cfg.optim_wrapper.optimizer = dict(
        type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4)
    path = osp.join(out_dir, 'equivalence.py')
    cfg.dump(path)
    return path


def _weights(work_dir: str, epoch: int, iters: int) -> dict:
    checkpoint = load_checkpoint_file(osp.join(work_dir, f'epoch_{epoch}.pth'))
    assert checkpoint['meta']['iter'] == iters
    return checkpoint['state_dict']


@pytest.fixture(scope='module')
def one_process(tiny_coco, tmp_path_factory):
    """One process, one image a batch, two batches a step: the config, the
    weights after the first epoch, and how far the second epoch moves each
    weight tensor (its largest change)."""
    # tools/train.py dumps its merged config into the work dir under the
    # config's name: keep the config apart so that the runs share it.
    config = equivalence_config(tiny_coco,
                                str(tmp_path_factory.mktemp('config')))
    work_dir = str(tmp_path_factory.mktemp('one-process'))
    run_tool([
        'tools/train.py', config, '--work-dir', work_dir, '--no-validate',
        '--cfg-options', 'train_dataloader.batch_size=1',
        'optim_wrapper.accumulative_counts=2', 'train_cfg.max_epochs=2'
    ],
             env=dict(
                 OMP_NUM_THREADS=str(len(CPU_HALVES[0])),
                 CUDA_VISIBLE_DEVICES=''))
    first = _weights(work_dir, 1, NUM_IMAGES)
    second = _weights(work_dir, 2, 2 * NUM_IMAGES)
    change = {
        k: (second[k] - v).abs().max().item()
        for k, v in first.items() if v.is_floating_point()
    }
    return config, first, change


def _run_node(config: str, work_dir: str, nnodes: int, node_rank: int,
              nproc: int, port: int) -> subprocess.Popen:
    """Start tools/dist_train.sh for one "node" of ``nproc`` processes,
    one image a process and batch; a one-process node on half the cores."""
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PYTHONUNBUFFERED='1',
        NNODES=str(nnodes),
        NODE_RANK=str(node_rank),
        MASTER_ADDR='127.0.0.1',
        PORT=str(port))
    env.pop('OMP_NUM_THREADS', None)  # as a user would: torchrun sets it
    env['CUDA_VISIBLE_DEVICES'] = ''  # gloo on CPUs, also where GPUs are
    return subprocess.Popen(
        [
            'bash', 'tools/dist_train.sh', config,
            str(nproc), '--work-dir', work_dir, '--no-validate',
            '--cfg-options', 'train_dataloader.batch_size=1'
        ],
        cwd=REPO_ROOT,
        env=env,
        preexec_fn=None if nproc > 1 else functools.partial(
            os.sched_setaffinity, 0, CPU_HALVES[node_rank]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)


# Each weight within 5% of how far the next epoch moves its tensor (plus
# float32 rounding for tensors that hardly move). Measured on 2 cores:
# bitwise equal (every process runs as many threads); 0.7% when the one
# process runs 2 threads and the others 1 (the kernels sum in another order,
# and four steps carry it on). Summing the two images' gradients instead of
# averaging them (the one process with twice the learning rate) is 114%
# off.
REL_TOL, ATOL = 0.05, 1e-6


@pytest.mark.slow
@pytest.mark.parametrize('layout', ['one-node', 'two-nodes'])
def test_two_processes_train_a_detector_as_one(layout, one_process, tiny_coco,
                                               tmp_path):
    config, reference, epoch_change = one_process
    work_dir = str(tmp_path)
    port = free_port()
    if layout == 'one-node':
        nodes = [_run_node(config, work_dir, 1, 0, 2, port)]
    else:
        nodes = [
            _run_node(config, work_dir, 2, rank, 1, port) for rank in (0, 1)
        ]
    logs = []
    for node in nodes:
        out, _ = node.communicate(timeout=600)
        assert node.returncode == 0, out[-4000:]
        logs.append(out)
    log = '\n'.join(logs)
    assert 'SyncBN needs GPUs: using BN instead' in log
    assert f'Epoch(train) [1][{STEPS}/{STEPS}]' in log
    weights = _weights(work_dir, 1, STEPS)

    # An epoch moves the weights by up to 0.1, half the tensors by 7e-4.
    moved = [v for k, v in epoch_change.items() if 'running_' not in k]
    assert max(moved) > 0.01
    assert weights.keys() == reference.keys()
    for key, value in reference.items():
        if key.endswith('num_batches_tracked'):
            # Per-process BN: rank 0's statistics saw half the images.
            assert value.item() == NUM_IMAGES, key
            assert weights[key].item() == STEPS, key
        elif not key.endswith(('running_mean', 'running_var')):
            torch.testing.assert_close(
                weights[key],
                value,
                rtol=0,
                atol=REL_TOL * epoch_change[key] + ATOL,
                msg=key)
