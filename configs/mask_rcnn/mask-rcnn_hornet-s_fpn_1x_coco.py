# Mask R-CNN with a HorNet-S (7x7) backbone and a plain FPN: the baseline of
# the paper's HorFPN study (1x, DETR-style multi-scale training with crop,
# AdamW with HorNet layer-wise lr decay, 8 GPUs x 2 images).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance_detr-aug.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

# mmpretrain's conversion of the official ImageNet-1k weights
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-small_3rdparty_in1k_20220915-5935f60f.pth'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhornet.HorNet',
        arch='small',
        drop_path_rate=0.6,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

# 12 epochs, lr x0.1 after epochs 8 and 11, 500 warm-up iterations
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
# The official num_layers=6 with HorNet's 0..12 layer ids gives the deepest
# blocks lr scales above 1 (up to 0.95 ** -5); kept as published.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmhornet.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6),
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=0.0001,
        betas=(0.9, 0.999),
        weight_decay=0.05))
