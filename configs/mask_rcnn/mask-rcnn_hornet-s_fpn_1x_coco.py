# Mask R-CNN with a HorNet-S (7x7) backbone and a plain FPN: the baseline of
# the paper's HorFPN study (1x, DETR-style multi-scale training with crop,
# AdamW with HorNet layer-wise lr decay, 8 GPUs x 2 images).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance_detr-aug.py',
    '../_base_/schedules/hornet_adamw_1x.py',
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
