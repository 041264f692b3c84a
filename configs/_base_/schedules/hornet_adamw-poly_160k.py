# The official HorNet segmentation schedule: 160k iterations of AdamW (lr
# 1e-4, weight decay 0.05 except on 1-D parameters and biases) with
# stage-wise lr decay, a linear warmup from 1e-6 over 1500 iterations and a
# linear ("poly", power 1) decay to 0. The configs set decay_rate,
# num_layers and gradient clipping (none by default).
_base_ = 'mmseg::_base_/schedules/schedule_160k.py'

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='mmhornet.LayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=12))

# mmcv 1.x multiplied the poly lr of the whole run by the warmup factor;
# two overlapping mmengine schedulers compose the same way (each scales the
# lr the other left). mmengine's schedulers reach their final value at step
# `end - 1`, mmcv's at `warmup_iters` / `max_iters`: hence the `+ 1`s, which
# give the official lr at every iteration: 1e-4 * (1 - i / 160000), times
# 1e-6 + (1 - 1e-6) * i / 1500 while i < 1500.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        end_factor=1.0,
        by_epoch=False,
        begin=0,
        end=1500 + 1),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=160000 + 1),
]

# The total batch the lr is for (the official 8 GPUs x 2 images), for
# tools/train.py's --auto-scale-lr and --total-batch (mmseg's bases set none).
auto_scale_lr = dict(enable=False, base_batch_size=16)
